// The time-control modules' pure parts: the paused screen's text and the dashboard's confirmation.
import assert from "node:assert/strict";
import { test } from "node:test";

import { REASONS, pausedText } from "../../web/static/web/pause.js";
import { pastCloseText, withCloseChoice } from "../../web/static/web/close-choice.js";
import { confirmText, inProgress } from "../../web/static/web/time-control.js";

test("the paused screen says why, the proctor's words and the stopped clock", () => {
  const text = pausedText({ category: "environment", note: "Fire alarm.", remaining_seconds: 754 });
  assert.ok(text.startsWith(`${REASONS.environment}. Fire alarm.`));
  assert.match(text, /stopped at 12:34; you lose no time/);
  assert.match(pausedText({ remaining_seconds: 5 }), /^A proctor paused the exam\. Your clock is stopped at 0:05/);
});

test("an exam-wide confirmation names the exam and the count", () => {
  assert.equal(confirmText("Pause", "Physics", 3), "Pause “Physics” for all 3 attempts in progress?");
  assert.equal(confirmText("Resume", undefined, 1), "Resume “this exam” for all 1 attempt in progress?");
  const rows = new Map([
    [1, { status: "ongoing" }],
    [2, { status: "completed" }],
    [3, { status: "ongoing", paused_at: "x" }],
  ]);
  assert.equal(inProgress(/** @type {any} */ ({ rows })).length, 2);
});

test("past the close: the proctor's choice is sent again as `close`, cancelling sends nothing more", async () => {
  const refusal = Object.assign(new Error("This runs 12 min past the close (2026-11-26T07:06:55.166Z): send close=move to move the close to the new end, or close=keep to keep the close (the time stops at it)."), { code: "past_close" });
  assert.equal(pastCloseText(refusal.message), "This runs 12 min past the close (2026-11-26T07:06:55.166Z).");
  /** @type {(string | undefined)[]} */
  const sent = [];
  const send = async (/** @type {string | undefined} */ close) => {
    sent.push(close);
    if (!close) throw refusal;
    return { close };
  };
  /** @type {string[]} */
  const asked = [];
  const reply = await withCloseChoice(send, async (message) => (asked.push(message), "keep"));
  assert.deepEqual(reply, { close: "keep" });
  assert.deepEqual(sent, [undefined, "keep"]);
  assert.deepEqual(asked, [refusal.message]);

  sent.length = 0;
  assert.equal(await withCloseChoice(send, async () => null), null);
  assert.deepEqual(sent, [undefined]);

  const other = Object.assign(new Error("gone"), { code: "attempt_ended" });
  await assert.rejects(withCloseChoice(() => Promise.reject(other), async () => "move"), other);
});
