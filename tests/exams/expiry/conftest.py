"""Fixtures of the expiry engine's tests."""

from collections.abc import Callable, Iterator

import pytest
from django.db import connection


@pytest.fixture
def poison(transactional_db) -> Iterator[Callable[[int], None]]:
    """`poison(attempt_id)`: from now on every UPDATE of that attempt's row fails (a MariaDB trigger).

    A corrupt row or a lock that never clears, in life. A trigger's DDL commits, hence the
    transactional database.
    """
    if connection.vendor != "mysql":
        pytest.skip("the poison row is a MariaDB trigger")
    names = []

    def make(attempt_id: int) -> None:
        name = f"poison_attempt_{attempt_id}"
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TRIGGER {name} BEFORE UPDATE ON exams_attempt FOR EACH ROW "
                f"IF NEW.id = {attempt_id} THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'poison row'; END IF"
            )
        names.append(name)

    yield make
    with connection.cursor() as cursor:
        for name in names:
            cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
