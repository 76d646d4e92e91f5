import assert from "node:assert/strict";
import { test } from "node:test";

import { describeAllowance, minutes, yourTime } from "../../web/static/web/allowance.js";

test("minutes round up, never showing less time than there is", () => {
  assert.equal(minutes(5400), "90 min");
  assert.equal(minutes(61), "2 min");
  assert.equal(minutes(-5), "0 min");
});

test("your time names the extra time of an accommodation", () => {
  assert.equal(yourTime(5400, 1800), "Your time: 90 min including 30 min extra time");
  assert.equal(yourTime(3600, 0), "Your time: 60 min");
});

test("the allowance line adds grants, time taken and the close", () => {
  const base = { allotted_seconds: 5400, accommodation_seconds: 1800, granted_seconds: 0, paused_seconds: 0, close_at: null };
  assert.equal(describeAllowance(base), "Your time: 90 min including 30 min extra time");
  assert.equal(
    describeAllowance({ ...base, granted_seconds: 600, close_at: "2026-11-26T12:00:00.000Z" }, () => "12:00"),
    "Your time: 90 min including 30 min extra time; 10 min more given by a proctor; the exam closes for you at 12:00",
  );
  assert.equal(describeAllowance({ ...base, accommodation_seconds: 0, granted_seconds: -120 }), "Your time: 90 min; 2 min taken by a proctor");
});
