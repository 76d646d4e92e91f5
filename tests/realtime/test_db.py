"""realtime.db: pool threads keep their database connection, and drop it when it is broken."""

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from asgiref.sync import async_to_sync
from django.db import DatabaseError, connection, connections

from realtime.db import db_call, db_pool, in_pool

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def one_thread() -> Iterator[ThreadPoolExecutor]:
    """A one-thread pool; its connection is closed afterwards."""
    executor = ThreadPoolExecutor(1)
    yield executor
    executor.submit(connections.close_all).result()
    executor.shutdown()


def raw_connection():
    """The thread's DB-API connection, opened if need be."""
    connection.ensure_connection()
    return connection.connection


def server_id() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT CONNECTION_ID()")
        return cursor.fetchone()[0]


def in_thread(executor: ThreadPoolExecutor, func):
    """`func()` run through `in_pool` on `executor`, from sync code."""
    return async_to_sync(in_pool(func, executor))()


def needs_mysql() -> None:
    if connection.vendor != "mysql":
        pytest.skip("kills a connection on the MySQL server")


def test_a_pool_thread_keeps_its_connection_between_calls(one_thread):
    first = in_thread(one_thread, raw_connection)
    assert in_thread(one_thread, raw_connection) is first
    # Even where request connections close at once (CONN_MAX_AGE 0, the default).
    assert connection.settings_dict["CONN_MAX_AGE"] == 0


def test_a_connection_killed_while_idle_is_replaced_on_the_next_call(one_thread):
    needs_mysql()
    first = in_thread(one_thread, server_id)
    with connection.cursor() as cursor:  # as a database restart would
        cursor.execute("KILL %s", [first])
    second = in_thread(one_thread, server_id)
    assert second != first
    assert in_thread(one_thread, server_id) == second


def test_a_connection_that_failed_in_a_call_is_replaced_on_the_next(one_thread):
    needs_mysql()

    def kill_own() -> None:
        with connection.cursor() as cursor:
            cursor.execute("KILL %s", [server_id()])

    first = in_thread(one_thread, server_id)
    with pytest.raises(DatabaseError):
        in_thread(one_thread, kill_own)
    assert in_thread(one_thread, server_id) != first


async def test_db_call_runs_in_the_process_pool():
    name = await db_call(lambda: threading.current_thread().name)()
    assert name.startswith("db-pool")
    assert db_pool()._max_workers == 4  # DB_POOL_SIZE of the test settings
