"""A fleet on one machine, as in production (`make cluster`): Redis with a replica and three
sentinels, daphne processes behind HAProxy, expiry listeners, MariaDB (fleet/launcher.py)."""
