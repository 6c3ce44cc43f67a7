"""The serving layer: a supervisor that binds the sockets once and keeps N hypercorn workers that drain on SIGTERM.

`supervisor` (the master process) → `worker` (one process each) → `server` (accept loop, drain) →
`connection` (hypercorn's TCP server with idle, header and drain limits). docs/DEPLOYMENT.md says why.
"""
