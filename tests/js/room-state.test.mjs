// The exam room's state (web/static/web/room-state.js): frames that repeat or arrive out of
// order change nothing they should not.
import assert from "node:assert/strict";
import { test } from "node:test";

import { ProctorRoomState, StudentRoomState } from "../../web/static/web/room-state.js";

const announcement = (id, extra = {}) => ({
  id, exam_id: 1, message: `m${id}`, to: "exam", sent_at: "2026-11-26T10:00:00.000Z", by: "p", acknowledged_at: null, ...extra,
});
const question = (id, extra = {}) => ({
  id, attempt_id: 9, text: `q${id}`, asked_at: "2026-11-26T10:00:00.000Z", answer: null, answered_at: null, ...extra,
});

test("a student's announcements stay shown until acknowledged, and a replay does not bring one back", () => {
  const room = new StudentRoomState();
  room.apply({ type: "room", attempt_id: 9, announcements: [announcement(1)], questions: [] });
  room.apply({ type: "announcement", ...announcement(2) });
  assert.deepEqual(room.pending.map((a) => a.id), [1, 2]);
  room.apply({ type: "acknowledged", announcement_id: 1, acknowledged_at: "2026-11-26T10:01:00.000Z" });
  assert.deepEqual(room.pending.map((a) => a.id), [2]);
  // The push of #1 arriving again (a duplicate from another process) keeps the acknowledgement.
  room.apply({ type: "announcement", ...announcement(1) });
  assert.deepEqual(room.pending.map((a) => a.id), [2]);
  assert.equal(room.all.length, 2);
});

test("the waiting room's replay (`announcements`) shows those not acknowledged, then pushes and acks apply", () => {
  const room = new StudentRoomState();
  const replay = [announcement(1, { acknowledged_at: "2026-11-26T09:59:00.000Z" }), announcement(2, { to: "student" })];
  assert.equal(room.apply({ type: "announcements", exam_id: 1, announcements: replay }), true);
  assert.deepEqual(room.pending.map((a) => a.id), [2]);
  room.apply({ type: "announcement", ...announcement(3) });
  room.apply({ type: "acknowledged", announcement_id: 2, acknowledged_at: "2026-11-26T10:01:00.000Z", request_id: "ack-1" });
  assert.deepEqual(room.pending.map((a) => a.id), [3]);
  assert.equal(room.apply({ type: "waiting" }), false);
});

test("an answer is never replaced by an older, unanswered copy of its question", () => {
  const room = new StudentRoomState();
  room.apply({ type: "question", ...question(5, { answer: "Yes.", answered_at: "2026-11-26T10:02:00.000Z" }), request_id: 1 });
  room.apply({ type: "question", ...question(5) });
  assert.equal(room.thread[0].answer, "Yes.");
  assert.equal("request_id" in room.thread[0], false);
  assert.equal(room.apply({ type: "timer" }), false);
});

test("a proctor's announcement keeps every acknowledgement whichever copy arrives last", () => {
  const room = new ProctorRoomState();
  const sent = { ...announcement(1), student: null, recipients: 2, acks: [] };
  room.apply({ type: "announcement_sent", announcement: sent });
  const ack = (user_id, student, at) => ({ type: "announcement_ack", announcement_id: 1, ack: { user_id, student, acknowledged_at: at }, acknowledged: 1 });
  room.apply(ack(7, "ann", "2026-11-26T10:01:00.000Z"));
  room.apply(ack(7, "ann", "2026-11-26T10:01:00.000Z"));
  // The proctor's own ack reply, made before Ann acknowledged, arrives late.
  room.apply({ type: "ack", action: "announce", request_id: "p1", ...sent });
  room.apply(ack(8, "bob", "2026-11-26T10:02:00.000Z"));
  assert.deepEqual(room.announcementList[0].acks.map((a) => a.student), ["ann", "bob"]);
  assert.equal(room.apply({ type: "ack", action: "extend" }), false);
});

test("the inbox lists unanswered questions first", () => {
  const room = new ProctorRoomState();
  for (const q of [question(1), question(2), question(3)]) room.apply({ type: "question", question: { ...q, student: "s", answered_by: null } });
  room.apply({ type: "question", question: { ...question(1, { answer: "a", answered_at: "2026-11-26T10:03:00.000Z" }), student: "s", answered_by: "p" } });
  assert.deepEqual(room.inbox.map((q) => q.id), [2, 3, 1]);
  assert.equal(room.unanswered, 2);
});
