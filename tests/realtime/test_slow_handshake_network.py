"""A socket whose handshake waits on a slow database (a loaded machine, a storm of reconnects):
daphne keeps the connection until the consumer accepts, within project/serve.py's
WEBSOCKET_CONNECT_TIMEOUT_SECONDS (not imported here: importing project.serve sets uvloop's policy).

daphne's default (5 s, its `--websocket_connect_timeout`, also autobahn's opening-handshake
timeout) dropped the TCP connection with no HTTP answer, which HAProxy turns into a 502, and
the dropped client reconnected into the same queue.
"""

import asyncio

import pytest
from django.db import connection
from websockets.asyncio.client import connect

from tests.conftest import token_for
from tests.realtime.test_sockets_network import attempt_path, recv, start, ws_uri
from tests.support.processes import daphne

pytestmark = [pytest.mark.network, pytest.mark.django_db(transaction=True)]

HELD_SECONDS = 7  # longer than daphne's 5 s default


def hold_attempts_table(held: asyncio.Event, release: asyncio.Event, loop: asyncio.AbstractEventLoop) -> None:
    """Write-lock the attempts table (the handshake's read waits on it) until `release` is set."""
    with connection.cursor() as cursor:
        cursor.execute("LOCK TABLES exams_attempt WRITE")
        try:
            loop.call_soon_threadsafe(held.set)
            asyncio.run_coroutine_threadsafe(release.wait(), loop).result()
        finally:
            cursor.execute("UNLOCK TABLES")
    connection.close()


async def first_frame(base: str, attempt_id: int, token: str) -> dict:
    """Open the student's socket, waiting as long as a browser would (no handshake timeout of its own)."""
    uri = ws_uri(base, attempt_path(attempt_id), token)
    async with connect(uri, origin=base, open_timeout=HELD_SECONDS + 20) as ws:
        return await recv(ws, timeout=5)


async def test_a_handshake_slower_than_5_s_still_opens(student, exam):
    if connection.vendor != "mysql":
        pytest.skip("table locks as MySQL/MariaDB have them")
    with daphne() as base:
        attempt = await start(base, token_for(student), exam.pk)
        held, release = asyncio.Event(), asyncio.Event()
        locker = asyncio.create_task(asyncio.to_thread(hold_attempts_table, held, release, asyncio.get_running_loop()))
        await held.wait()
        try:
            opening = asyncio.create_task(first_frame(base, attempt["attempt_id"], token_for(student)))
            await asyncio.sleep(HELD_SECONDS)
            release.set()
            frame = await opening
        finally:
            release.set()
            await locker
        assert (frame["type"], frame["attempt_id"]) == ("timer", attempt["attempt_id"])
