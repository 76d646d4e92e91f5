// The server's clock as seen from this page, and a countdown driven by it.
//
// Each message with a `server_time` bounds the offset between the server's clock and the
// page's monotonic clock (`performance.now()`): the server can't have made a message after
// it arrived, nor (for a REST call whose send time we know) before the request left. The
// estimate is the middle of the tightest interval over recent samples, so its error is at
// most half the shortest round trip. Counting on the monotonic clock means a wrong or
// changed system clock, or a throttled background tab, does not make the countdown drift.

const MAX_AGE_MS = 5 * 60_000;
const MAX_ONE_SIDED = 32; // socket frames: arrival time only
const MAX_TWO_SIDED = 8; // REST samples: send and arrival time

export function parseTime(iso) {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new Error(`Not a timestamp: ${iso}`);
  return ms;
}

export class ServerClock {
  #oneSided = [];
  #twoSided = [];
  #base = null; // server epoch ms minus performance.now()
  #error = Infinity;

  /**
   * The server said `serverTime` in a reply that arrived at monotonic time `received`;
   * `sent` is when its request left, when known (a REST call), so the round trip bounds the error.
   */
  addSample(serverTime, received, sent = null) {
    const at = typeof serverTime === "number" ? serverTime : parseTime(serverTime);
    // The contract's timestamps are truncated to the millisecond: the true time is in [at, at + 1).
    const sample = { low: at - received, high: sent === null ? Infinity : at + 1 - sent, received };
    const fresh = (list, max) => list.filter((s) => received - s.received < MAX_AGE_MS).slice(-(max - 1));
    if (sent === null) this.#oneSided = [...fresh(this.#oneSided, MAX_ONE_SIDED), sample];
    else this.#twoSided = [...fresh(this.#twoSided, MAX_TWO_SIDED), sample];
    this.#estimate(sample);
  }

  #estimate(newest) {
    const all = [...this.#oneSided, ...this.#twoSided];
    let low = Math.max(...all.map((s) => s.low));
    let high = Math.min(...all.map((s) => s.high));
    if (low > high) {
      // The clocks jumped (the computer slept, the server's clock was stepped): older samples
      // no longer agree with the newest one, so start over from it.
      this.#oneSided = newest.high === Infinity ? [newest] : [];
      this.#twoSided = newest.high === Infinity ? [] : [newest];
      ({ low, high } = newest);
    }
    this.#base = Number.isFinite(high) ? (low + high) / 2 : low;
    this.#error = (high - low) / 2;
  }

  get synced() {
    return this.#base !== null;
  }

  /** The server's time now, in epoch milliseconds (the system clock until the first sample). */
  now() {
    return this.#base === null ? Date.now() : this.#base + performance.now();
  }

  /** How far the system clock is behind the server's (negative when ahead), in milliseconds. */
  get skewMs() {
    return this.#base === null ? 0 : Math.round(this.now() - Date.now());
  }

  /** The largest error of the estimate, in milliseconds (Infinity with socket frames alone). */
  get errorMs() {
    return this.#error;
  }
}

/**
 * Calls `render(remainingMs)` whenever the whole seconds left change, on the server's clock.
 * Timers in a background tab may fire late; each render recomputes from the clock, and the
 * page is redrawn the moment it becomes visible again.
 */
export class Countdown {
  #timer = null;
  #deadline = null;
  #onVisible = () => this.#tick();

  constructor(clock, render) {
    this.clock = clock;
    this.render = render;
  }

  set deadline(ms) {
    this.#deadline = ms;
    if (this.#timer !== null) this.#tick();
  }

  get deadline() {
    return this.#deadline;
  }

  remainingMs() {
    return this.#deadline === null ? null : Math.max(0, this.#deadline - this.clock.now());
  }

  start() {
    document.addEventListener("visibilitychange", this.#onVisible);
    this.#tick();
  }

  stop() {
    clearTimeout(this.#timer);
    this.#timer = null;
    document.removeEventListener("visibilitychange", this.#onVisible);
  }

  #tick() {
    clearTimeout(this.#timer);
    const left = this.remainingMs();
    this.render(left);
    // Wake just after the displayed whole second changes (the display rounds up).
    const delay = left === null || left <= 0 ? 1000 : (left % 1000 || 1000) + 15;
    this.#timer = setTimeout(() => this.#tick(), delay);
  }
}
