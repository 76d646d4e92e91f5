// @ts-check
// The announcement picker's value names the recipient: everyone, an attempt, or a student who has none yet.
import assert from "node:assert/strict";
import { test } from "node:test";

import { recipient } from "../../web/static/web/announcements.js";

test("the picker's value names everyone, an attempt, or a student without an attempt by user id", () => {
  assert.deepEqual(recipient(""), {});
  assert.deepEqual(recipient("12"), { attempt_id: 12 });
  assert.deepEqual(recipient("user:7"), { user_id: 7 });
});
