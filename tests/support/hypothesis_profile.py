"""The settings of the property-based tests that run against the real database and Redis.

Modest example counts keep the suite fast; no per-example deadline (a database round trip
varies on a shared machine); the function-scoped fixtures (users, an exam) are shared by the
examples on purpose, and each example clears what it made.
"""

from hypothesis import HealthCheck, settings

REAL_SERVICES = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
