"""`make chaos`: the service under faults, kills, drains and reloads, checked against a ledger (run.py)."""
