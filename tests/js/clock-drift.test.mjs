// web/static/web/clock.js against a monotonic clock that runs 2 % fast (issue 12): the countdown
// follows the server's clock from every `timer` frame, not only from the REST check every 60 s.

import assert from "node:assert/strict";
import { test } from "node:test";

import { Countdown, ServerClock, remainingSeconds } from "../../web/static/web/clock.js";
import { FakeHost } from "./fake-host.mjs";

const SERVER = Date.UTC(2030, 5, 1, 12); // the server's time at monotonic 0
const FAST = 1.02; // the page's monotonic clock gains 2 %
const FRAME_DELAY_MS = 5; // a socket frame's trip, on the page's clock
const REST_TRIP_MS = 10; // a REST round trip
const RESAMPLE_MS = 60_000; // student.js's REST check

/** The server's true time when the page's monotonic clock reads `monotonic`. */
const serverAt = (/** @type {number} */ monotonic) => SERVER + monotonic / FAST;

/**
 * Three minutes of an open attempt: a `timer` frame each server second and a REST check each
 * minute, fed to the clock the way student.js does; returns the worst error of `clock.now()`
 * (every 50 ms) and every countdown render with the true time left at that moment.
 * @param {{frames: boolean}} options
 */
async function run({ frames }) {
  const host = new FakeHost();
  const clock = new ServerClock(host);
  const deadline = SERVER + 10 * 60_000;
  const renders = [];
  const countdown = new Countdown(clock, (seconds) => renders.push({ at: host.time, seconds }), host);
  clock.addSample(serverAt(0), REST_TRIP_MS, 0);
  countdown.setDeadline(deadline);
  countdown.start();
  let worst = 0;
  const end = 180_000 * FAST;
  let nextFrame = 1; // in server seconds
  let nextRest = RESAMPLE_MS;
  for (let t = 0; t < end; t += 50) {
    await host.advance(50);
    worst = Math.max(worst, Math.abs(clock.now() - serverAt(host.time)));
    // A frame made at server second k arrives FRAME_DELAY_MS later on the page's clock.
    const madeAt = (nextFrame * 1000) * FAST;
    if (frames && host.time >= madeAt + FRAME_DELAY_MS) {
      clock.addSample(SERVER + nextFrame * 1000, madeAt + FRAME_DELAY_MS);
      countdown.setDeadline(deadline);
      nextFrame++;
    } else if (!frames && host.time >= madeAt + FRAME_DELAY_MS) {
      nextFrame++;
    }
    if (host.time >= nextRest) {
      const sent = host.time - REST_TRIP_MS;
      clock.addSample(Math.floor(serverAt(sent + REST_TRIP_MS / 2)), host.time, sent);
      countdown.setDeadline(deadline);
      nextRest += RESAMPLE_MS;
    }
  }
  countdown.stop();
  const wrong = renders.filter(({ at, seconds }) => {
    // What the display should say at that moment, give or take 100 ms.
    const early = remainingSeconds(deadline, serverAt(at) - 100);
    const late = remainingSeconds(deadline, serverAt(at) + 100);
    return seconds > early || seconds < late;
  });
  return { worst, wrong, renders };
}

test("issue 12: with the monotonic clock 2 % fast, the countdown stays within 100 ms of the server's clock", async () => {
  const { worst, wrong, renders } = await run({ frames: true });
  assert.ok(worst < 100, `clock.now() was up to ${worst.toFixed(0)} ms off`);
  assert.ok(renders.length > 170, "it kept counting");
  assert.deepEqual(wrong, [], "every second shown was the right one within 100 ms");
});

test("REST checks alone leave it up to a second wrong before each check (why the frames must count)", async () => {
  const { worst } = await run({ frames: false });
  assert.ok(worst > 1_000, `worst ${worst.toFixed(0)} ms`);
});
