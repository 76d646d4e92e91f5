// web/static/web/clock.js: the time-left rule, the server clock's offset estimate, the countdown.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { Countdown, ServerClock, parseTime, remainingSeconds } from "../../web/static/web/clock.js";
import { FakeHost } from "./fake-host.mjs";

describe("remainingSeconds", () => {
  test("rounds up to whole seconds, like the server's math.ceil", () => {
    assert.equal(remainingSeconds(10_000, 0), 10);
    assert.equal(remainingSeconds(10_000, 1), 10);
    assert.equal(remainingSeconds(10_000, -1), 11);
    assert.equal(remainingSeconds(10_000, 9_000), 1);
    assert.equal(remainingSeconds(10_000, 9_999), 1);
  });

  test("is 0 at the deadline and never below", () => {
    assert.equal(remainingSeconds(10_000, 10_000), 0);
    assert.ok(Object.is(remainingSeconds(10_000, 10_400), 0), "not -0");
    assert.equal(remainingSeconds(10_000, 99_000), 0);
  });
});

describe("parseTime", () => {
  test("reads the contract's timestamps to the millisecond", () => {
    assert.equal(parseTime("2030-01-01T00:00:01.250Z"), Date.UTC(2030, 0, 1, 0, 0, 1, 250));
    assert.equal(parseTime("2030-01-01T01:00:00+01:00"), Date.UTC(2030, 0, 1));
  });

  test("refuses what is not a timestamp", () => {
    assert.throws(() => parseTime("soon"), /Not a timestamp/);
  });
});

describe("ServerClock", () => {
  const SERVER = Date.UTC(2030, 5, 1, 12); // the server's time in the samples below

  test("is the system clock until the first sample", () => {
    const host = new FakeHost();
    const clock = new ServerClock(host);
    host.time = 1234;
    assert.equal(clock.now(), host.wall());
    assert.equal(clock.skewMs, 0);
  });

  test("a socket frame alone: the server's time as it arrived, counted on the monotonic clock", () => {
    const host = new FakeHost();
    const clock = new ServerClock(host);
    clock.addSample(SERVER, 2_000);
    host.time = 5_000;
    assert.equal(clock.now(), SERVER + 3_000);
  });

  test("a REST round trip: the middle of what the send and arrival times allow", () => {
    const host = new FakeHost();
    const clock = new ServerClock(host);
    // Sent at 1000, answered at 1200: the server's time at arrival is in [SERVER, SERVER + 201).
    clock.addSample(new Date(SERVER).toISOString(), 1_200, 1_000);
    host.time = 1_200;
    assert.equal(clock.now(), SERVER + 100.5);
  });

  test("the tightest bounds over all samples win", () => {
    const host = new FakeHost();
    const clock = new ServerClock(host);
    clock.addSample(SERVER, 1_200, 1_000); // offset in [SERVER - 1200, SERVER - 999]
    clock.addSample(SERVER + 10_000, 11_050, 11_000); // offset in [SERVER - 1050, SERVER - 999]
    host.time = 20_000;
    assert.equal(clock.now(), SERVER - 1_024.5 + 20_000);
    // A frame that arrived early for its timestamp raises the lower bound; the REST samples'
    // upper bounds have loosened with their age (the clocks may drift), so half the quickest
    // round trip (51 ms) completes the frame's one-sided bound.
    clock.addSample(SERVER + 19_000, 20_000); // offset >= SERVER - 1000
    assert.equal(clock.now(), SERVER - 1_000 + 25.5 + 20_000);
  });

  test("a sample older than five minutes no longer bounds the estimate", () => {
    const host = new FakeHost();
    const clock = new ServerClock(host);
    clock.addSample(SERVER, 100, 98); // offset in [SERVER - 100, SERVER - 97]
    const later = 6 * 60_000;
    clock.addSample(SERVER + later, later + 110, later + 90); // offset in [SERVER - 110, SERVER - 89]
    host.time = later + 110;
    // Both samples counted would give SERVER - 98.5.
    assert.equal(clock.now(), SERVER - 99.5 + host.time);
  });

  test("when the clocks jump, the older samples are dropped and the newest one counts", () => {
    const host = new FakeHost();
    const clock = new ServerClock(host);
    clock.addSample(SERVER, 1_200, 1_000);
    // The computer slept for a minute without its monotonic clock counting it.
    clock.addSample(SERVER + 61_000, 2_100, 2_000);
    host.time = 2_100;
    assert.equal(clock.now(), SERVER + 61_000 + 50.5);
    // Later samples are compared with the new state only.
    clock.addSample(SERVER + 61_100, 2_200);
    assert.equal(clock.now(), SERVER + 61_000 + 50.5);
  });

  test("a jump seen in a socket frame restarts from that frame, which keeps bounding later samples", () => {
    const host = new FakeHost();
    const clock = new ServerClock(host);
    clock.addSample(SERVER, 1_200, 1_000); // offset in [SERVER - 1200, SERVER - 999]
    clock.addSample(SERVER + 60_050, 2_000); // offset >= SERVER + 58050: the server's clock was stepped
    host.time = 3_000;
    assert.equal(clock.now(), SERVER + 58_050 + 3_000);
    clock.addSample(SERVER + 61_000, 3_000, 2_900); // offset in [SERVER + 58000, SERVER + 58101]
    // The frame's bound, a second old, has loosened by the allowed drift (50 ms) to SERVER + 58000.
    assert.equal(clock.now(), SERVER + 58_050.5 + 3_000);
  });

  test("skew: how far the system clock is behind the server's", () => {
    const host = new FakeHost();
    host.wallBase = SERVER + 3_600_000; // an hour fast
    const clock = new ServerClock(host);
    clock.addSample(SERVER, 0, 0);
    assert.equal(clock.skewMs, -3_600_000 + 1);
    host.time = 30_000;
    assert.equal(clock.skewMs, -3_600_000 + 1);
  });
});

describe("Countdown", () => {
  /** A countdown on an unsynced ServerClock (the fake system clock) that records what it shows, and when. */
  function countdown(host) {
    const shown = [];
    const clock = new ServerClock(host);
    const timer = new Countdown(clock, (seconds) => shown.push([host.time, seconds]), host);
    return { shown, timer, at: (ms) => host.wall() + ms };
  }

  test("shows the seconds left rounded up, redrawn just after each second boundary", async () => {
    const host = new FakeHost();
    const { shown, timer, at } = countdown(host);
    timer.setDeadline(at(2_500));
    timer.start();
    await host.advance(4_000);
    assert.deepEqual(shown, [
      [0, 3],
      [515, 2],
      [1_515, 1],
      [2_515, 0],
      [3_515, 0],
    ]);
  });

  test("shows null until it has a deadline", async () => {
    const host = new FakeHost();
    const { shown, timer } = countdown(host);
    timer.start();
    await host.advance(1_000);
    assert.deepEqual(shown, [
      [0, null],
      [1_000, null],
    ]);
  });

  test("a new deadline (extra time) is shown at once", async () => {
    const host = new FakeHost();
    const { shown, timer, at } = countdown(host);
    timer.setDeadline(at(10_000));
    timer.start();
    await host.advance(300);
    timer.setDeadline(at(70_000));
    assert.deepEqual(shown.at(-1), [300, 70]);
    await host.advance(1_100);
    assert.deepEqual(shown.at(-1), [1_315, 69]);
  });

  test("a deadline set before start draws nothing until started", async () => {
    const host = new FakeHost();
    const { shown, timer, at } = countdown(host);
    timer.setDeadline(at(5_000));
    assert.deepEqual(shown, []);
    timer.start();
    assert.deepEqual(shown, [[0, 5]]);
  });

  test("a tab made visible again is redrawn from the clock at once, not when the late timer fires", async () => {
    const host = new FakeHost();
    const { shown, timer, at } = countdown(host);
    timer.setDeadline(at(60_000));
    timer.start();
    host.document.visibilityState = "hidden";
    host.time += 20_400; // the throttled timer has not fired
    host.document.visibilityState = "visible";
    host.document.dispatchEvent(new Event("visibilitychange"));
    assert.deepEqual(shown, [
      [0, 60],
      [20_400, 40],
    ]);
    assert.deepEqual(host.pending, [615], "one timer, for the next boundary");
  });

  test("stop cancels its timer and its page listener", async () => {
    const host = new FakeHost();
    const { shown, timer, at } = countdown(host);
    timer.setDeadline(at(5_000));
    timer.start();
    timer.stop();
    assert.deepEqual(host.pending, []);
    host.document.dispatchEvent(new Event("visibilitychange"));
    timer.setDeadline(at(9_000));
    assert.deepEqual(shown, [[0, 5]]);
  });
});
