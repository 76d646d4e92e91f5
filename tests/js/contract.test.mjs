// The proctor snapshot's compact rows read back as the row objects every event carries, and where a
// reconnecting dashboard resumes from.
import assert from "node:assert/strict";
import { test } from "node:test";

import { resumeFrom, snapshotRows } from "../../web/static/web/contract.js";

test("snapshotRows pairs each row's values with the columns", () => {
  const frame = {
    type: "snapshot",
    exam_id: 3,
    columns: ["attempt_id", "status", "connected", "ended_at"],
    rows: [
      [7, "ongoing", true, null],
      [9, "timeout", false, "2026-11-26T04:00:00.000Z"],
    ],
  };
  assert.deepEqual(snapshotRows(/** @type {any} */ (frame)), [
    { attempt_id: 7, status: "ongoing", connected: true, ended_at: null },
    { attempt_id: 9, status: "timeout", connected: false, ended_at: "2026-11-26T04:00:00.000Z" },
  ]);
});

test("an empty exam has no rows", () => {
  assert.deepEqual(snapshotRows(/** @type {any} */ ({ columns: ["attempt_id"], rows: [] })), []);
});

test("a reconnecting dashboard resumes from the newest server_time among its rows", () => {
  const rows = [
    { attempt_id: 1, server_time: "2026-11-26T07:00:00.000Z" },
    { attempt_id: 2, server_time: "2026-11-26T07:00:05.250Z" },
    { attempt_id: 3, server_time: "2026-11-26T07:00:04.999Z" },
  ];
  assert.equal(resumeFrom(/** @type {any} */ (rows)), "2026-11-26T07:00:05.250Z");
  assert.equal(resumeFrom(new Map(rows.map((r) => [r.attempt_id, r])).values()), "2026-11-26T07:00:05.250Z");
});

test("a page with no rows resumes from nothing: a full snapshot", () => {
  assert.equal(resumeFrom([]), null);
});
