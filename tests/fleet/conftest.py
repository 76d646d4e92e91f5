"""The fleet of `make cluster` (fleet/launcher.py), started once for the module on free ports:
HAProxy in front of two daphnes, two listeners, Redis with a replica and three sentinels, and
the tests' own MariaDB/SQLite database."""

import os
import socket
from collections.abc import Iterator

import pytest

from fleet.launcher import Fleet, FleetPorts
from tests.support.processes import server_env


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def free_fleet_ports() -> FleetPorts:
    """A load-balancer port and a block of 16 free ports (CLUSTER_TEST_BASE_PORT: start looking there)."""
    start = int(os.environ.get("CLUSTER_TEST_BASE_PORT", 0))
    candidates = range(start, start + 2000, 20) if start else range(21000, 30000, 97)
    for base in candidates:
        if all(_free(port) for port in range(base, base + 17)):
            return FleetPorts(port=base + 16, base=base)
    raise RuntimeError("no block of 17 free ports")


@pytest.fixture(scope="module")
def fleet(django_db_setup, django_db_blocker) -> Iterator[Fleet]:
    env = server_env()
    env.pop("REDIS_URL", None)
    fleet = Fleet(ports=free_fleet_ports(), env=env)
    # The app processes read TEST_REDIS_URL (project/test_settings.py): the fleet's database 0,
    # its master found through the sentinels.
    fleet.base_env["TEST_REDIS_URL"] = fleet.redis.url
    fleet.start()
    try:
        yield fleet
    finally:
        fleet.stop()
