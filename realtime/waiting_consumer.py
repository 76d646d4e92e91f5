"""A student's waiting-room socket: `/ws/exams/<exam_id>/wait/`.

It only moves messages: on connect one service call checks the student in (and seats them if
the start has come); `start_code` checks a code; the process's waiting rooms (realtime/waiting.py)
push the `start` frame at the synchronized start. After `start` the page opens the attempt's
own socket (`/ws/attempts/<id>/`) and closes this one.
"""

import json
import time
from datetime import datetime

from exams import announcements, waiting_room
from exams.contract import builders, codes, frames, room_builders

from .consumers import _ServiceSocket
from .db import db_call
from .hub import get_hub
from .waiting import start_texts


class WaitingConsumer(_ServiceSocket):
    exam_id = 0  # set on connect (ids are positive): 0 means the socket never joined
    code_accepted = False
    # The attempt whose `start` frame this socket got (None: still waiting).
    seated: int | None = None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Announcements whose `acknowledged` this socket's own reply carried (the relay to the
        # student's sockets comes back here too).
        self.replied: set[int] = set()

    async def connect(self):
        user_id = self.scope.get("user_id")
        if user_id is None:
            return await self.reject(codes.CLOSE_UNAUTHENTICATED)
        exam_id = self.scope["url_route"]["kwargs"]["exam_id"]
        # Join first (a start that comes meanwhile seats this socket too), then read the room.
        if not get_hub().rooms.add(self, exam_id):
            return await self.reject(codes.CLOSE_TOO_MANY_SOCKETS)
        self.exam_id = exam_id
        await get_hub().wait_joined()
        read_at = time.monotonic()
        view = await self.open_or_reject(db_call(waiting_room.open_room)(user_id=user_id, exam_id=exam_id))
        if view is None or self.closed:
            return
        self.user = view.user
        self.note_rights(self.user, read_at)
        await self.accept()
        await self.show(view)
        if view.announcements and self.seated is None:
            await self.send_json(room_builders.waiting_announcements_frame(exam_id, view.announcements))
        await self.become_ready()
        get_hub().rooms.catch_up(self, exam_id)

    async def disconnect(self, code):
        self.release()

    def release(self) -> None:
        if self.released or not self.exam_id:
            return
        self.released = True
        get_hub().rooms.remove(self, self.exam_id)

    async def show(self, view: waiting_room.RoomView, request_id=None) -> None:
        """The room as `view` says: its `start` frame if seated, else `waiting` (and why a late start was refused)."""
        self.code_accepted = view.code_accepted
        get_hub().rooms.arm(view.exam)
        if view.seating is not None:
            attempt_id, text = start_texts(view.seating)[view.user.pk]
            if request_id is not None:
                text = text[:-1] + f', "request_id": {json.dumps(request_id)}}}'
            await self.send_start(text, attempt_id)
            return
        frame = builders.waiting_frame(view.exam, code_accepted=view.code_accepted)
        if request_id is not None and view.refusal is None:
            frame["request_id"] = request_id
        await self.send_json(frame)
        if view.refusal is not None:
            await self.send_error(view.refusal.code, view.refusal.message, request_id)

    async def send_start(self, text: str, attempt_id: int) -> None:
        """The `start` frame, once per attempt (a seating and this socket's own connect may both send it)."""
        if self.seated == attempt_id:
            return
        self.seated = attempt_id
        await self.send_frame({"type": "websocket.send", "text": text})

    async def on_event(self, payload: dict) -> None:
        if payload.get("type") == "acknowledged" and payload.get("announcement_id") in self.replied:
            self.replied.discard(payload["announcement_id"])
            return  # this socket's own reply already said so
        await self.send_json(payload)

    async def resync(self, state: object) -> None:
        """The waiting rooms resync themselves (realtime/waiting.py)."""

    # Client actions ----------------------------------------------------------------------

    async def do_start_code(self, *, received_at: datetime, code: str) -> None:
        """Replies itself: `waiting` (code accepted), or `start` when the start has come."""
        view = await db_call(waiting_room.enter_start_code)(user=self.user, exam_id=self.exam_id, code=code)
        await self.show(view, self.request_id)
        get_hub().rooms.catch_up(self, self.exam_id)
        return None

    async def do_acknowledge(self, *, received_at: datetime, announcement_id: int) -> dict:
        """An announcement seen in the waiting room (as on the attempt's socket)."""
        ack = await db_call(announcements.acknowledge_in_waiting_room)(
            user=self.user, exam_id=self.exam_id, announcement_id=announcement_id
        )
        self.replied.add(ack.announcement_id)
        return room_builders.acknowledged_frame(ack)

    messages = frames.WAITING_MESSAGES
    actions = {"start_code": do_start_code, "acknowledge": do_acknowledge, "auth": _ServiceSocket.do_auth}
