"""One account flooding a server with sockets and answers, in a process of its own.

The abuse tests run it with `python -m tests.support.flood`, so that the flood's client-side
work (sending and reading thousands of frames) never delays the test's own measurements of
another student. Protocol on stdout, one JSON line each: after opening the sockets
`{"opened": n, "refused": [close codes]}`; then, once a line arrives on stdin, it floods and
prints `{"replies": {kind: count}, "seconds": s}` (kind: `answer_saved` or an error's code).
"""

import argparse
import asyncio
import json
import sys
import time

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

WAIT = 10


async def open_sockets(uri: str, origin: str, count: int) -> tuple[list, list[int]]:
    opened, refused = [], []
    for _ in range(count):
        ws = await connect(uri, origin=origin, open_timeout=WAIT)
        try:
            first = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
        except ConnectionClosed as closed:
            refused.append(closed.rcvd.code if closed.rcvd else None)
            continue
        assert first["type"] == "timer", first
        opened.append(ws)
    return opened, refused


async def flood(ws, n: int, question_id: int, tag: str) -> dict[str, int]:
    """Send `n` answers as fast as the socket takes them, then count the replies to them (pushes
    of the other sockets' saves, which carry no request_id of ours, are skipped)."""
    for i in range(n):
        message = {
            "type": "answer",
            "question_id": question_id,
            "selected_option": "AB"[i % 2],
            "request_id": f"{tag}{i}",
        }
        await ws.send(json.dumps(message))
    counts: dict[str, int] = {}
    answered = 0
    while answered < n:
        frame = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
        if not str(frame.get("request_id", "")).startswith(tag):
            continue
        answered += 1
        kind = frame["code"] if frame["type"] == "error" else frame["type"]
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def say(payload: dict) -> None:
    print(json.dumps(payload), flush=True)


async def main(base: str, token: str, attempt_id: int, question_id: int, sockets: int, per_socket: int) -> None:
    uri = f"{base.replace('http://', 'ws://')}/ws/attempts/{attempt_id}/?token={token}"
    opened, refused = await open_sockets(uri, base, sockets)
    say({"opened": len(opened), "refused": refused})
    await asyncio.to_thread(sys.stdin.readline)
    started = time.monotonic()
    results = await asyncio.gather(*(flood(ws, per_socket, question_id, f"f{n}-") for n, ws in enumerate(opened)))
    seconds = time.monotonic() - started
    replies: dict[str, int] = {}
    for counts in results:
        for kind, n in counts.items():
            replies[kind] = replies.get(kind, 0) + n
    for ws in opened:
        await ws.close()
    say({"replies": replies, "seconds": seconds})


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("base")
    parser.add_argument("token")
    parser.add_argument("attempt_id", type=int)
    parser.add_argument("question_id", type=int)
    parser.add_argument("--sockets", type=int, default=7)
    parser.add_argument("--per-socket", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(main(args.base, args.token, args.attempt_id, args.question_id, args.sockets, args.per_socket))
