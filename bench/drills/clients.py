"""What a drill sees from outside: students and proctors on real sockets, REST over plain HTTP.

A student behaves like the web client: it answers over its socket with a `request_id`, keeps
an answer until the server confirms or refuses it (resending it after a reconnect, retrying
`service_unavailable`), reconnects on any close with backoff (at once on 1012, the server's
"restarting"), to the next server when one refuses, and stops at its attempt's final state.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass, field

RETRYABLE = {"service_unavailable", "throttled"}
REPLY_TIMEOUT = 15.0


async def http(
    host_port: str, method: str, path: str, token: str | None = None, body: dict | None = None, timeout: float = 30
) -> tuple[int, dict]:
    """One HTTP/1.1 request on its own connection; (status, JSON body). Status 0: no answer."""
    host, port = host_port.split(":")
    payload = json.dumps(body).encode() if body is not None else b""
    head = [f"{method} {path} HTTP/1.1", f"Host: {host_port}", "Connection: close", "Accept: application/json"]
    if token:
        head.append(f"Authorization: Bearer {token}")
    if body is not None:
        head += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
    writer = None
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), timeout)
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
        raw = await asyncio.wait_for(reader.read(-1), timeout)
    except (OSError, TimeoutError):
        return 0, {}
    finally:
        if writer is not None:
            writer.close()
    header, _, content = raw.partition(b"\r\n\r\n")
    try:
        status = int(header.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 0, {}
    if b"transfer-encoding: chunked" in header.lower():
        content = _unchunk(content)
    try:
        return status, json.loads(content or b"{}")
    except ValueError:
        return status, {}


def _unchunk(data: bytes) -> bytes:
    out, rest = b"", data
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if not size:
            break
        out, rest = out + rest[:size], rest[size + 2 :]
    return out


@dataclass
class AnswerRecord:
    attempt_id: int
    question_id: int
    option: str
    first_sent: float | None = None
    last_sent: float | None = None
    tries: int = 0
    outcome: str | None = None  # "acked" | "refused" | None (never resolved)
    code: str | None = None
    saved_at: str | None = None
    # What the reply says is stored: an answer received before one stored later is superseded by it.
    acked_option: str | None = None
    via: str = "ws"
    resolved_at: float | None = None


@dataclass
class Student:
    attempt_id: int
    token: str
    deadline: float  # epoch seconds
    home: int  # index of the server it first connects to
    servers: list[str]
    questions: list[tuple[int, list[str]]]
    answering: bool = True
    answer_period: float = 4.0
    in_time_margin: float = 1.0
    # state seen from outside
    open: bool = False
    final: str | None = None
    final_at: float | None = None
    connects: int = 0
    drops: int = 0
    close_codes: list = field(default_factory=list)
    answers: list[AnswerRecord] = field(default_factory=list)
    leave_on_drop: bool = False  # kill -9 drill: this student does not come back
    gone: bool = False
    stop_answering: bool = False

    def __post_init__(self) -> None:
        self.done = asyncio.Event()
        self.ws = None
        self.pending: AnswerRecord | None = None
        self.reply: asyncio.Future | None = None
        self.request_id: str | None = None
        self.index = self.home
        self.fast_reconnect = False

    @property
    def should_be_connected(self) -> bool:
        return self.open and not self.gone

    async def run(self) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed

        backoff = 0.1
        while not self.done.is_set():
            server = self.servers[self.index % len(self.servers)]
            try:
                ws = await connect(
                    f"ws://{server}/ws/attempts/{self.attempt_id}/?token={self.token}",
                    origin=f"http://{server}",
                    open_timeout=15,
                    ping_interval=None,
                    compression=None,
                    close_timeout=2,
                    max_queue=None,
                )
            except (OSError, TimeoutError, Exception):
                self.index += 1
                await asyncio.sleep(backoff * (0.5 + random.random()))
                backoff = min(2.0, backoff * 2)
                continue
            self.ws, self.connects = ws, self.connects + 1
            answerer = None
            code = None
            try:
                async for text in ws:
                    frame = json.loads(text)
                    kind = frame.get("type")
                    if kind == "timer" and not self.open:
                        self.open, backoff = True, 0.1
                        if self.answering and answerer is None:
                            answerer = asyncio.create_task(self._answer_loop(ws))
                    elif kind in ("timeout", "submitted"):
                        if self.final is None:
                            self.final, self.final_at = kind, time.time()
                        self.done.set()
                        # Keep reading, as a page does: replies to answers sent in time may follow.
                    elif (
                        kind in ("answer_saved", "error")
                        and frame.get("request_id") == self.request_id
                        and self.reply is not None
                        and not self.reply.done()
                    ):
                        self.reply.set_result(frame)
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd else 1006
            except Exception:
                code = 1006
            finally:
                self.open = False
                if answerer is not None:
                    answerer.cancel()
                    await asyncio.gather(answerer, return_exceptions=True)
            if self.done.is_set():
                await ws.close()
                break
            self.drops += 1
            self.close_codes.append(code)
            if self.leave_on_drop:
                self.gone = True
                self.done.set()
                break
            if code == 1012 or self.fast_reconnect:
                delay = 0.0
            else:
                delay = backoff * (0.5 + random.random())
                backoff = min(2.0, backoff * 2)
            await asyncio.sleep(delay)
        self.open = False

    async def _answer_loop(self, ws) -> None:
        seq = len(self.answers)
        while True:
            if self.pending is None:
                await asyncio.sleep(self.answer_period * (0.5 + random.random()))
                # Only answers sent well before the deadline: any refusal of one is a loss.
                if self.stop_answering or time.time() >= self.deadline - self.in_time_margin:
                    return
                qid, options = random.choice(self.questions)
                self.pending = AnswerRecord(self.attempt_id, qid, random.choice(options))
                self.answers.append(self.pending)
            answer = self.pending
            answer.tries += 1
            seq += 1
            self.request_id = f"{self.attempt_id}-{seq}"
            self.reply = asyncio.get_running_loop().create_future()
            answer.last_sent = time.time()
            if answer.first_sent is None:
                answer.first_sent = answer.last_sent
            await ws.send(
                json.dumps(
                    {
                        "type": "answer",
                        "question_id": answer.question_id,
                        "selected_option": answer.option,
                        "request_id": self.request_id,
                    }
                )
            )
            try:
                frame = await asyncio.wait_for(self.reply, REPLY_TIMEOUT)
            except TimeoutError:
                continue  # no reply: send it again
            answer.resolved_at = time.time()
            if frame["type"] == "answer_saved":
                answer.outcome, answer.saved_at = "acked", frame["saved_at"]
                answer.acked_option = frame["selected_option"]
                self.pending = None
            elif frame.get("code") in RETRYABLE:
                await asyncio.sleep(0.5)
            else:
                answer.outcome, answer.code = "refused", frame.get("code")
                self.pending = None

    def drop(self) -> None:
        """Cut the socket as a network blip does (no close handshake); it reconnects at once."""
        self.fast_reconnect = True
        if self.ws is not None:
            self.ws.transport.abort()

    async def stop(self) -> None:
        self.done.set()
        if self.ws is not None:
            try:
                await asyncio.wait_for(self.ws.close(), 3)
            except Exception:
                pass


class Proctor:
    """A proctor's socket on one exam: counts what it is told, reconnects on close."""

    def __init__(self, exam_id: int, token: str, servers: list[str], home: int) -> None:
        self.exam_id, self.token, self.servers, self.index = exam_id, token, servers, home
        self.frames: dict[str, int] = {}
        self.done = asyncio.Event()
        self.ws = None

    async def run(self) -> None:
        from websockets.asyncio.client import connect

        while not self.done.is_set():
            server = self.servers[self.index % len(self.servers)]
            try:
                async with connect(
                    f"ws://{server}/ws/proctor/exams/{self.exam_id}/?token={self.token}",
                    origin=f"http://{server}",
                    open_timeout=15,
                    ping_interval=None,
                    max_queue=None,
                    close_timeout=2,
                    max_size=None,
                ) as ws:
                    self.ws = ws
                    async for text in ws:
                        kind = json.loads(text).get("type")
                        self.frames[kind] = self.frames.get(kind, 0) + 1
            except Exception:
                self.index += 1
            if not self.done.is_set():
                await asyncio.sleep(0.5)

    async def stop(self) -> None:
        self.done.set()
        if self.ws is not None:
            try:
                await asyncio.wait_for(self.ws.close(), 3)
            except Exception:
                pass


class LoopLag:
    """How late this client's event loop wakes up: a busy client would blame the server wrongly."""

    def __init__(self, period: float = 0.1) -> None:
        self.period, self.samples = period, []
        self.task: asyncio.Task | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(self.period)
            self.samples.append(loop.time() - start - self.period)

    def start(self) -> None:
        self.task = asyncio.create_task(self._run())

    def stop(self) -> dict:
        if self.task:
            self.task.cancel()
        return self.summary()

    def summary(self) -> dict:
        ordered = sorted(self.samples) or [0.0]
        return {
            "p99_ms": round(ordered[int(0.99 * (len(ordered) - 1))] * 1000, 1),
            "max_ms": round(ordered[-1] * 1000, 1),
        }
