// The student page's pure modules (issue 12): the connection banner's words, flags kept per
// attempt, the report of answers that did not count, the device-clock warning, the hook registry.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { FlagStore } from "../../web/static/web/flags.js";
import { LateAnswers, describeLate } from "../../web/static/web/late.js";
import { skewText } from "../../web/static/web/skew.js";
import { BACK_ONLINE_MS, ConnectionStatus } from "../../web/static/web/status.js";
import {
  dispatchFrame,
  instructionsLines,
  onAttemptOpen,
  onFrame,
  registerInstructionsLine,
  registerPreStart,
  runAttemptOpen,
  runPreStart,
} from "../../web/static/web/student-hooks.js";
import { FakeHost } from "./fake-host.mjs";

describe("ConnectionStatus", () => {
  function status() {
    const host = new FakeHost();
    const shown = [];
    const connection = new ConnectionStatus((banner) => shown.push(banner), host);
    return { host, shown, connection, last: () => shown.at(-1) };
  }

  test("says nothing while the first connection is made, nor once live", () => {
    const { connection, shown } = status();
    connection.socket("connecting");
    connection.socket("live");
    assert.deepEqual(shown, []);
  });

  test("offline: answers are kept on this device, with how many wait", () => {
    const { connection, last } = status();
    connection.socket("live");
    connection.network(false);
    assert.equal(last().kind, "error");
    assert.match(last().text, /^You are offline: answers are kept on this device and will be sent when you reconnect\./);
    connection.answers(2, true);
    assert.match(last().text, /2 answers waiting on this device\.$/);
  });

  test("a server that can't be reached is said so, even if the browser thinks it is online", () => {
    const { connection, last } = status();
    connection.socket("live");
    connection.socket("waiting", { retryInMs: 2000 });
    assert.equal(last().kind, "warn");
    assert.match(last().text, /^Reconnecting to the exam server \(next try in 2 s\)… Your answers are still being saved/);
    connection.answers(1, true);
    assert.equal(last().kind, "error");
    assert.match(last().text, /^The exam server can't be reached: answers are kept on this device and will be sent when it can\./);
  });

  test("back online: says what is still being sent, then that all is saved, then goes", async () => {
    const { connection, last, host } = status();
    connection.socket("live");
    connection.network(false);
    connection.answers(1, true);
    connection.network(true);
    connection.socket("waiting", { retryInMs: 500 });
    connection.socket("live");
    connection.answers(1, false);
    assert.deepEqual(last(), { kind: "info", text: "Back online: sending 1 answer kept on this device…" });
    connection.answers(0, false);
    assert.deepEqual(last(), { kind: "ok", text: "Back online: all your answers are saved." });
    connection.answers(0, false); // more news of nothing does not keep it up longer
    await host.advance(BACK_ONLINE_MS);
    assert.equal(last(), null);
  });

  test("a failed socket says why", () => {
    const { connection, last } = status();
    connection.socket("failed", { message: "This attempt belongs to another account." });
    assert.equal(last().kind, "error");
    assert.match(last().text, /^This attempt belongs to another account\. Reload the page/);
  });
});

describe("FlagStore", () => {
  test("flags survive a new store on the same storage (a reload), per attempt", () => {
    const host = new FakeHost();
    const flags = new FlagStore(7, host);
    assert.equal(flags.toggle(3), true);
    assert.equal(flags.toggle(5), true);
    assert.equal(flags.toggle(3), false);
    const reloaded = new FlagStore(7, host);
    assert.deepEqual([reloaded.has(3), reloaded.has(5), reloaded.size], [false, true, 1]);
    assert.equal(new FlagStore(8, host).size, 0);
    reloaded.clear();
    assert.equal(host.storage.getItem("exam.flags.7"), null);
  });

  test("a damaged stored value is no flags, not an error", () => {
    const host = new FakeHost();
    host.storage.setItem("exam.flags.7", "{not json");
    assert.equal(new FlagStore(7, host).size, 0);
  });
});

describe("LateAnswers", () => {
  const T = Date.UTC(2030, 0, 1, 10, 0, 0);

  test("a choice made offline and refused as late is reported with why; a saved one is not", () => {
    const host = new FakeHost();
    const late = new LateAnswers(4, host);
    late.chosen(11, "A", T);
    late.saved(11);
    late.chosen(12, "B", T + 1000);
    late.offline(12, T + 1200);
    late.offline(12, T + 5000); // the first failure counts
    late.refused(12, 2, T + 9000, "Time is up for this attempt; the answer was not saved.");
    const [entry] = new LateAnswers(4, host).list;
    assert.deepEqual({ ...entry }, {
      questionId: 12, number: 2, option: "B", chosenAt: T + 1000, offlineSince: T + 1200, refusedAt: T + 9000,
      message: "Time is up for this attempt; the answer was not saved.",
    });
    assert.match(describeLate(entry, T + 3000),
      /^Question 2: Your choice B, made at .+, while this device was offline \(from .+\), reached the server after the deadline \(.+\) and was not counted\.$/);
  });

  test("what was still on the device at the end is reported as such", () => {
    const host = new FakeHost();
    const late = new LateAnswers(4, host);
    late.chosen(13, null, T);
    late.ended(() => 3);
    const [entry] = late.list;
    assert.match(describeLate(entry, null), /^Question 3: Clearing your choice, made at .+, was still on this device, unconfirmed, when the exam ended/);
  });
});

describe("skewText", () => {
  test("silent under 5 s, then ahead or behind in words", () => {
    assert.equal(skewText(4_400), null);
    assert.equal(skewText(-4_400), null);
    assert.match(skewText(-3_600_000), /^Your device's clock is 60 min ahead;/);
    assert.match(skewText(90_000), /^Your device's clock is 1 min 30 s behind;/);
  });
});

describe("student-hooks", () => {
  test("modules' hooks run in order, a failing one does not stop the others, and their cleanups run", () => {
    const calls = [];
    const warn = console.warn;
    console.warn = () => calls.push("warned");
    try {
      onAttemptOpen(() => {
        throw new Error("broken module");
      });
      onAttemptOpen((ctx) => {
        calls.push(`open ${ctx.attemptId}`);
        return () => calls.push("closed");
      });
      onFrame("announcement", (ctx, frame) => calls.push(`frame ${frame.text}`));
      registerPreStart((ctx) => {
        calls.push(`pre ${ctx.exam.id}`);
        return () => calls.push("left");
      });
      registerInstructionsLine((exam) => (exam.id === 1 ? "Extra time: 15 min" : null));
      const close = runAttemptOpen(/** @type {any} */ ({ attemptId: 9 }));
      assert.equal(dispatchFrame(/** @type {any} */ ({}), { type: "announcement", text: "hi" }, 0), true);
      assert.equal(dispatchFrame(/** @type {any} */ ({}), { type: "timer" }, 0), false);
      close();
      runPreStart(/** @type {any} */ ({ exam: { id: 1 } }))();
      assert.deepEqual(instructionsLines(/** @type {any} */ ({ id: 1 })), ["Extra time: 15 min"]);
      assert.deepEqual(instructionsLines(/** @type {any} */ ({ id: 2 })), []);
    } finally {
      console.warn = warn;
    }
    assert.deepEqual(calls, ["warned", "open 9", "frame hi", "closed", "pre 1", "left"]);
  });
});
