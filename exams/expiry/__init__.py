"""The expiry engine: what times attempts out when no request or socket is looking.

`listener.py` runs the three paths (keyspace events, the deadline sweeper, the reconciler) as
the `run_timer_listener` command; `batches.py` is their database work (time out a claimed
batch, isolating an attempt that fails on its own; reconcile; re-arm), through
`exams.services.expire_attempts` and the deadline rule of `exams.deadlines`.
"""
