// The waiting room's words (web/static/web/waiting.js) and the proctor's "start now" confirmation
// (web/static/web/start-control.js): pure functions of the room's state and the server's time.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { startNowText } from "../../web/static/web/start-control.js";
import { waitingText } from "../../web/static/web/waiting.js";

describe("waitingText", () => {
  const at = Date.parse("2026-11-26T10:00:00.000Z");

  test("counts down to the start on the server's clock, rounding up", () => {
    const text = waitingText({ startsAtMs: at, codeRequired: false, codeAccepted: true }, at - 61_500);
    assert.equal(text.countdown, "1:02");
    assert.equal(text.askCode, false);
    assert.match(text.headline, /questions appear when the exam starts/);
  });

  test("asks for the code until it is accepted, also after the start", () => {
    assert.equal(waitingText({ startsAtMs: at, codeRequired: true, codeAccepted: false }, at - 5000).askCode, true);
    const late = waitingText({ startsAtMs: at, codeRequired: true, codeAccepted: false }, at + 1000);
    assert.equal(late.countdown, null);
    assert.match(late.headline, /has started: enter the start code/);
    assert.equal(waitingText({ startsAtMs: at, codeRequired: true, codeAccepted: true }, at - 5000).askCode, false);
  });

  test("without a start time the proctor starts it", () => {
    const text = waitingText({ startsAtMs: null, codeRequired: false, codeAccepted: true }, at);
    assert.equal(text.countdown, null);
    assert.match(text.headline, /proctor will start the exam/);
  });
});

describe("startNowText", () => {
  const room = { title: "Physics", waiting_room: true, scheduled_at: null, started_at: null, start_code: "", checked_in: 12, ready: 12, started: 0 };

  test("names the exam and the number waiting", () => {
    assert.deepEqual(startNowText(room), {
      ok: true,
      text: 'Start "Physics" now? 12 students are waiting; their clocks all start together in a moment.',
    });
    assert.match(startNowText({ ...room, ready: 1, checked_in: 1 }).text, /1 student is waiting/);
  });

  test("says who has no code yet, and that a schedule is replaced", () => {
    const text = startNowText({ ...room, ready: 10, scheduled_at: "2026-11-26T10:00:00.000Z" }).text;
    assert.match(text, /10 students are waiting/);
    assert.match(text, /2 more have not entered the start code yet/);
    assert.match(text, /replaces the scheduled start/);
  });

  test("nothing to confirm once started or without a room", () => {
    assert.equal(startNowText({ ...room, started_at: "2026-11-26T10:00:00.000Z" }).ok, false);
    assert.equal(startNowText({ ...room, waiting_room: false }).ok, false);
  });
});
