"""Frozen copies of earlier game rules, kept only so logs written under them still replay exactly."""
