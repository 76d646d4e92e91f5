// @ts-check
// The server's clock as seen from this page, the one rule for the time left, and a countdown.
//
// Each message with a `server_time` bounds the offset between the server's clock and the
// page's monotonic clock (`performance.now()`): the server can't have made a message after
// it arrived, nor (for a REST call whose send time we know) before the request left. The
// estimate is the middle of the tightest interval over recent samples, so its error is at
// most half the shortest round trip. Counting on the monotonic clock means a wrong or
// changed system clock, or a throttled background tab, does not make the countdown drift.
//
// The monotonic clock itself may run a little fast or slow against the server's: each sample's
// bounds are widened by MAX_DRIFT per millisecond of its age, so the newest frames keep
// correcting the estimate (every `timer` frame, once a second) instead of an old sample holding
// it until the next REST check. A bound from one side only (a socket frame: the server's time
// when it left, not how long it travelled) is completed with half the shortest REST round trip.

import { browserHost } from "./host.js";

/** @typedef {import("./host.js").Host} Host */
/** @typedef {{low: number, high: number, received: number}} Sample  bounds of the offset, and when it arrived */

const MAX_AGE_MS = 5 * 60_000;
const MAX_ONE_SIDED = 32; // socket frames: arrival time only
const MAX_TWO_SIDED = 8; // REST samples: send and arrival time
// How fast the monotonic clock may gain or lose on the server's (5 %: far more than any real
// clock; a tested 2 % keeps the estimate within tens of milliseconds).
const MAX_DRIFT = 0.05;

/**
 * Epoch milliseconds of one of the contract's ISO 8601 timestamps.
 * @param {string} iso
 * @returns {number}
 */
export function parseTime(iso) {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new Error(`Not a timestamp: ${iso}`);
  return ms;
}

/**
 * Whole seconds left until `deadlineMs` at `nowMs` (both epoch milliseconds), never below 0.
 * Rounded up like the server's `clock.remaining_seconds`, so a running clock never shows 0 early.
 * @param {number} deadlineMs
 * @param {number} nowMs
 * @returns {number}
 */
export function remainingSeconds(deadlineMs, nowMs) {
  return Math.max(0, Math.ceil((deadlineMs - nowMs) / 1000));
}

/**
 * Milliseconds from `nowMs` until the `remainingSeconds` of any of `deadlinesMs` next changes
 * (1000 when none is running): how long a page showing many countdowns may sleep, so that each
 * changes on the server's second boundary, as the student's own countdown does.
 * @param {Iterable<number>} deadlinesMs
 * @param {number} nowMs
 * @returns {number}
 */
export function msUntilNextChange(deadlinesMs, nowMs) {
  let soonest = 1000;
  for (const deadline of deadlinesMs) {
    const left = deadline - nowMs;
    if (left > 0) soonest = Math.min(soonest, left % 1000 || 1000);
  }
  return soonest;
}

export class ServerClock {
  /** @type {Sample[]} */
  #oneSided = [];
  /** @type {Sample[]} */
  #twoSided = [];
  /** @type {number | null} server epoch ms minus the monotonic clock */
  #base = null;

  /** @param {Pick<Host, "monotonic" | "wall">} host */
  constructor(host = browserHost) {
    this.host = host;
  }

  /**
   * The server said `serverTime` in a reply that arrived at monotonic time `received`;
   * `sent` is when its request left, when known (a REST call), so the round trip bounds the error.
   * @param {string | number} serverTime an ISO timestamp or epoch milliseconds
   * @param {number} received
   * @param {number | null} [sent]
   * @returns {void}
   */
  addSample(serverTime, received, sent = null) {
    const at = typeof serverTime === "number" ? serverTime : parseTime(serverTime);
    // The contract's timestamps are truncated to the millisecond: the true time is in [at, at + 1).
    /** @type {Sample} */
    const sample = { low: at - received, high: sent === null ? Infinity : at + 1 - sent, received };
    /** @type {(list: Sample[], max: number) => Sample[]} */
    const fresh = (list, max) => list.filter((s) => received - s.received < MAX_AGE_MS).slice(-(max - 1));
    if (sent === null) this.#oneSided = [...fresh(this.#oneSided, MAX_ONE_SIDED), sample];
    else this.#twoSided = [...fresh(this.#twoSided, MAX_TWO_SIDED), sample];
    this.#estimate(sample);
  }

  /** @param {Sample} newest */
  #estimate(newest) {
    const all = [...this.#oneSided, ...this.#twoSided];
    const slack = (/** @type {Sample} */ s) => MAX_DRIFT * (newest.received - s.received);
    let low = Math.max(...all.map((s) => s.low - slack(s)));
    let high = Math.min(...all.map((s) => s.high + slack(s)));
    if (low > high) {
      // The clocks jumped (the computer slept, the server's clock was stepped): older samples
      // no longer agree with the newest one, so start over from it.
      this.#oneSided = newest.high === Infinity ? [newest] : [];
      this.#twoSided = newest.high === Infinity ? [] : [newest];
      ({ low, high } = newest);
    }
    // No sample is known to have travelled faster than the quickest REST round trip's half.
    const widths = this.#twoSided.map((s) => s.high - s.low);
    const tightest = widths.length ? Math.min(...widths) : 0;
    this.#base = (low + Math.min(high, low + tightest)) / 2;
  }

  /**
   * The server's time now, in epoch milliseconds (the system clock until the first sample).
   * @returns {number}
   */
  now() {
    return this.#base === null ? this.host.wall() : this.#base + this.host.monotonic();
  }

  /** How far the system clock is behind the server's (negative when ahead), in milliseconds. */
  get skewMs() {
    return this.#base === null ? 0 : Math.round(this.now() - this.host.wall());
  }
}

/**
 * Calls `render(seconds)` with `remainingSeconds` whenever the whole seconds left change, on
 * the server's clock (`null` until a deadline is set), and each second once they reach 0.
 * Timers in a background tab may fire late; each render recomputes from the clock, and the
 * page is redrawn the moment it becomes visible again.
 */
export class Countdown {
  /** @type {number | null} */
  #timer = null;
  /** @type {number | null} */
  #deadline = null;
  #onVisible = () => this.#tick();

  /**
   * @param {{now(): number}} clock the server's clock (a ServerClock)
   * @param {(seconds: number | null) => void} render
   * @param {Pick<Host, "setTimeout" | "clearTimeout" | "document">} host
   */
  constructor(clock, render, host = browserHost) {
    this.clock = clock;
    this.render = render;
    this.host = host;
  }

  /**
   * The deadline in the server's epoch milliseconds; a running countdown redraws at once.
   * @param {number} ms
   * @returns {void}
   */
  setDeadline(ms) {
    this.#deadline = ms;
    if (this.#timer !== null) this.#tick();
  }

  /** @returns {void} */
  start() {
    this.host.document.addEventListener("visibilitychange", this.#onVisible);
    this.#tick();
  }

  /** @returns {void} */
  stop() {
    this.host.clearTimeout(this.#timer);
    this.#timer = null;
    this.host.document.removeEventListener("visibilitychange", this.#onVisible);
  }

  #tick() {
    this.host.clearTimeout(this.#timer);
    const now = this.clock.now();
    this.render(this.#deadline === null ? null : remainingSeconds(this.#deadline, now));
    // Wake just after the displayed whole second changes (the display rounds up).
    const left = this.#deadline === null ? 0 : this.#deadline - now;
    const delay = left <= 0 ? 1000 : (left % 1000 || 1000) + 15;
    this.#timer = this.host.setTimeout(() => this.#tick(), delay);
  }
}
