"""The expiry engine: what times attempts out when no request or socket is looking.

`listener.py` runs the three paths (keyspace events, the deadline sweeper, the reconciler) as
the `run_timer_listener` command; each times out through `exams.services`.
"""
