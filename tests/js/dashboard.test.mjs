// The proctor dashboard's pure modules: row-state.js (highlights, the summary bar, filters),
// event-groups.js (grouped alerts), clock.js's msUntilNextChange (the table's countdowns on
// second boundaries) and dashboard.js's registry.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { msUntilNextChange, remainingSeconds } from "../../web/static/web/clock.js";
import { Dashboard } from "../../web/static/web/dashboard.js";
import { EventGroups } from "../../web/static/web/event-groups.js";
import { highlight, matchesStatus, summarize } from "../../web/static/web/row-state.js";

const T0 = Date.UTC(2030, 0, 1, 9, 0, 0);
const iso = (ms) => new Date(ms).toISOString();

/** A proctor row, ongoing and connected, started at T0 with nothing answered. */
function row(id, fields = {}) {
  return {
    attempt_id: id, exam_id: 1, student: `s${id}`, status: "ongoing", remaining_seconds: 600, deadline: iso(T0 + 3_600_000),
    server_time: iso(T0), answered: 0, total_questions: 3, connected: true, started_at: iso(T0), ended_at: null,
    extra_seconds: 0, score: null, max_score: null, last_activity: iso(T0), last_answer_at: null, ...fields,
  };
}

describe("row-state", () => {
  const thresholds = { offlineMs: 60_000, idleMs: 600_000 };

  test("offline longer than the threshold, as this page saw it go, is highlighted; shorter is not", () => {
    const seen = new Map([[1, T0 + 1_000]]);
    const offline = row(1, { connected: false, last_answer_at: iso(T0 + 1_000) });
    assert.equal(highlight(offline, seen, T0 + 61_000, thresholds), "");
    assert.equal(highlight(offline, seen, T0 + 61_001, thresholds), "offline");
  });

  test("no answer for long is 'idle', counted from the last answer or the start; ended rows are never highlighted", () => {
    const seen = new Map();
    assert.equal(highlight(row(1), seen, T0 + 600_001, thresholds), "idle");
    assert.equal(highlight(row(1, { last_answer_at: iso(T0 + 300_000) }), seen, T0 + 600_001, thresholds), "");
    assert.equal(highlight(row(1, { status: "completed" }), seen, T0 + 10_000_000, thresholds), "");
  });

  test("the summary bar counts unfinished (overdue included), connected, offline, idle and finished", () => {
    const now = T0 + 120_000;
    const rows = [
      row(1), row(2, { connected: false }), row(3, { connected: false }), row(4, { status: "overdue" }),
      row(5, { status: "completed" }), row(6, { status: "timeout" }),
    ];
    const seen = new Map([[2, T0], [3, now - 1_000]]);
    assert.deepEqual(summarize(rows, seen, now, thresholds), { total: 6, ongoing: 4, connected: 2, offline: 1, idle: 0, finished: 2 });
    assert.deepEqual(rows.filter((r) => matchesStatus(r, "offline", seen, now, thresholds)).map((r) => r.attempt_id), [2]);
    assert.deepEqual(rows.filter((r) => matchesStatus(r, "finished", seen, now, thresholds)).map((r) => r.attempt_id), [5, 6]);
    assert.deepEqual(rows.filter((r) => matchesStatus(r, "ongoing", seen, now, thresholds)).map((r) => r.attempt_id), [1, 2, 3, 4]);
  });
});

describe("EventGroups", () => {
  test("37 disconnections within 30 s are one group; a later one starts another", () => {
    const groups = new EventGroups({ windowMs: 30_000 });
    for (let i = 0; i < 37; i++) groups.add("student_disconnected", i, `s${i}`, T0 + i * 500);
    assert.equal(groups.groups.length, 1);
    assert.equal(groups.groups[0].students.size, 37);
    const { created } = groups.add("student_disconnected", 99, "late", T0 + 30_001);
    assert.ok(created);
    assert.equal(groups.groups.length, 2);
  });

  test("kinds group apart, and a repeat counts once", () => {
    const groups = new EventGroups();
    groups.add("student_disconnected", 1, "a", T0);
    groups.add("student_connected", 1, "a", T0 + 1);
    groups.add("student_disconnected", 1, "a", T0 + 2);
    assert.deepEqual(groups.groups.map((g) => [g.kind, g.students.size]), [["student_disconnected", 1], ["student_connected", 1]]);
  });
});

describe("msUntilNextChange", () => {
  test("wakes when the soonest of many countdowns changes its whole second", () => {
    // Deadlines 10.250 s and 20.700 s after now: the first changes in 250 ms.
    assert.equal(msUntilNextChange([T0 + 10_250, T0 + 20_700], T0), 250);
    assert.equal(msUntilNextChange([T0 + 20_700], T0), 700);
    assert.equal(msUntilNextChange([T0 + 5_000], T0), 1000);
  });

  test("ignores countdowns that reached 0 and sleeps a second with none", () => {
    assert.equal(msUntilNextChange([T0 - 10], T0), 1000);
    assert.equal(msUntilNextChange([], T0), 1000);
  });

  test("a table redrawn at each wake (+15 ms) shows no time left more than 15 ms after it changed", () => {
    const deadlines = [T0 + 7_123, T0 + 9_456, T0 + 3_999];
    let wake = T0;
    let shown = [];
    let worst = 0;
    for (let t = T0; t < T0 + 8_000; t++) {
      if (t >= wake) {
        shown = deadlines.map((d) => remainingSeconds(d, t));
        wake = t + msUntilNextChange(deadlines, t) + 15;
      }
      deadlines.forEach((d, i) => {
        const exact = remainingSeconds(d, t);
        if (shown[i] !== exact) worst = Math.max(worst, t - (d - exact * 1000)); // since it changed
      });
    }
    assert.ok(worst <= 15, `a countdown stayed stale for ${worst} ms`);
  });

  test("a free-running 1 s interval (the old proctor table) is up to a second behind", () => {
    const d = T0 + 7_500;
    let worst = 0;
    for (let t = T0; t < T0 + 5_000; t++) {
      const shown = remainingSeconds(d, T0 + Math.floor((t - T0) / 1000) * 1000);
      const exact = remainingSeconds(d, t);
      if (shown !== exact) worst = Math.max(worst, t - (d - exact * 1000));
    }
    assert.ok(worst > 400, `only ${worst} ms`);
  });
});

describe("Dashboard registry", () => {
  test("feature modules register hooks once each; panels are kept in their order", () => {
    const board = new Dashboard();
    board.addPanel({ key: "events", title: "Live events", order: 20, mount() {} });
    board.addPanel({ key: "alerts", title: "Alerts", order: 10, mount() {} });
    board.addPanel({ key: "audit", title: "Audit log", mount() {} });
    assert.deepEqual(board.panels.map((p) => p.key), ["alerts", "events", "audit"]);
    board.addBulkAction({ key: "pause", label: "Pause", applies: () => true, confirm: () => "", run: async () => "" });
    assert.throws(() => board.addBulkAction({ key: "pause", label: "Pause", applies: () => true, confirm: () => "", run: async () => "" }), /twice/);
  });

  test("a failing listener does not stop the others", () => {
    const board = new Dashboard();
    const heard = [];
    const error = console.error;
    console.error = () => {};
    try {
      board.on("rows", () => { throw new Error("boom"); });
      board.on("rows", (ctx) => heard.push(ctx));
      board.emit("rows", /** @type {any} */ ("ctx"));
    } finally {
      console.error = error;
    }
    assert.deepEqual(heard, ["ctx"]);
  });
});
