// A fake of web/static/web/host.js's Host: time moves only when a test says so, timers fire in
// order as it advances, storage is a Map, `fetch` asks the test's `server`, and sockets are
// FakeSockets the test drives.

export class FakeHost {
  /** Monotonic milliseconds (performance.now()). */
  time = 0;
  /** The system clock at monotonic time 0 (epoch milliseconds). */
  wallBase = Date.UTC(2030, 0, 1);
  randomValue = 0.5;
  storage = new MemoryStorage();
  sessionStorage = new MemoryStorage();
  /** `(path, init) => Response`: the server behind `fetch`; every request is kept in `requests`. */
  server = () => {
    throw new TypeError("Failed to fetch");
  };
  requests = [];
  /** Every socket opened, in order. */
  sockets = [];
  window = new EventTarget();
  document = Object.assign(new EventTarget(), { visibilityState: "visible" });
  #timers = new Map(); // id -> {at, callback}
  #nextId = 1;

  monotonic = () => this.time;
  wall = () => this.wallBase + this.time;
  random = () => this.randomValue;

  setTimeout = (callback, ms) => {
    const id = this.#nextId++;
    this.#timers.set(id, { at: this.time + Math.max(0, ms), callback });
    return id;
  };

  clearTimeout = (id) => {
    this.#timers.delete(id);
  };

  fetch = async (path, init) => {
    const request = { path, ...init, body: init.body === undefined ? undefined : JSON.parse(init.body) };
    this.requests.push(request);
    return this.server(request);
  };

  openSocket = (path) => {
    const socket = new FakeSocket(path);
    this.sockets.push(socket);
    return socket;
  };

  /** The delays of the timers still waiting, soonest first. */
  get pending() {
    return [...this.#timers.values()].map((t) => t.at - this.time).sort((a, b) => a - b);
  }

  /** Move time on by `ms`, firing each timer that falls due at its own time (ties in the order set). */
  async advance(ms) {
    const end = this.time + ms;
    for (;;) {
      await settle();
      let due = null;
      for (const [id, timer] of this.#timers) if (timer.at <= end && (!due || timer.at < due[1].at)) due = [id, timer];
      if (!due) break;
      this.#timers.delete(due[0]);
      this.time = due[1].at;
      due[1].callback();
    }
    this.time = end;
    await settle();
  }

  /** The most recently opened socket. */
  get socket() {
    return this.sockets.at(-1);
  }
}

/** Let every promise callback that is ready run (awaits, `.then`s). */
export function settle() {
  return new Promise((resolve) => setImmediate(resolve));
}

export class MemoryStorage {
  map = new Map();
  getItem(key) {
    return this.map.has(key) ? this.map.get(key) : null;
  }
  setItem(key, value) {
    this.map.set(key, String(value));
  }
  removeItem(key) {
    this.map.delete(key);
  }
}

/** A WebSocket the test opens, talks through and closes, recording what the page sent. */
export class FakeSocket {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSING = 2;
  static CLOSED = 3;

  readyState = FakeSocket.CONNECTING;
  sent = [];
  closedWith = null;
  onopen = null;
  onmessage = null;
  onclose = null;

  constructor(url) {
    this.url = url;
  }

  /** The messages the page sent, parsed. */
  get messages() {
    return this.sent.map((text) => JSON.parse(text));
  }

  send(text) {
    if (this.readyState !== FakeSocket.OPEN) throw new Error("send on a socket that is not open");
    this.sent.push(text);
  }

  close(code) {
    this.closedWith = code;
    this.readyState = FakeSocket.CLOSED;
  }

  // --- the server's side ---

  open() {
    this.readyState = FakeSocket.OPEN;
    this.onopen?.({});
  }

  receive(message) {
    this.onmessage?.({ data: typeof message === "string" ? message : JSON.stringify(message) });
  }

  serverClose(code) {
    this.readyState = FakeSocket.CLOSED;
    this.onclose?.({ code });
  }
}
