// A WebSocket that stays connected: it reconnects with backoff, takes a fresh access token
// before each connection, and follows the contract's close codes (1012 and 1001 reconnect now;
// 4401 refresh and retry; 4403 and 4404 are final).

const MAX_DELAY_MS = 10_000;
const MAX_AUTH_RETRIES = 2;
// A server shutting down closes a whole room at once: spread the reconnects over this long.
const RESTART_JITTER_MS = 500;

export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_SERVICE_RESTART = 1012;

export const CLOSE_UNAUTHENTICATED = 4401;
export const CLOSE_FORBIDDEN = 4403;
export const CLOSE_NOT_FOUND = 4404;

export class LiveSocket {
  #ws = null;
  #state = "idle"; // idle | connecting | live | waiting | failed | stopped
  #failures = 0;
  #authRetries = 0;
  #retryTimer = null;
  #silenceTimer = null;
  #wake = () => {
    if (this.#state === "waiting" && document.visibilityState !== "hidden") {
      this.#failures = 0;
      this.#connect();
    }
  };

  /**
   * `path`: the socket's path (the token is added); `onMessage(message, receivedAt)`;
   * `onStatus(state, detail)` with state `connecting`, `live`, `waiting` ({retryInMs}) or
   * `failed` ({message}); `messages`: what to say for 4403 and 4404; `silenceMs`: reconnect
   * when a socket that should talk regularly says nothing for that long.
   */
  constructor({ path, session, onMessage, onStatus, messages = {}, silenceMs = null }) {
    Object.assign(this, { path, session, onMessage, onStatus, messages, silenceMs });
  }

  get isLive() {
    return this.#state === "live" && this.#ws !== null && this.#ws.readyState === WebSocket.OPEN;
  }

  start() {
    window.addEventListener("online", this.#wake);
    document.addEventListener("visibilitychange", this.#wake);
    this.#connect();
  }

  stop() {
    this.#state = "stopped";
    window.removeEventListener("online", this.#wake);
    document.removeEventListener("visibilitychange", this.#wake);
    clearTimeout(this.#retryTimer);
    this.#drop(1000);
  }

  /** Send a message if the socket is live; false when it is not (the caller falls back). */
  send(message) {
    if (!this.isLive) return false;
    this.#ws.send(JSON.stringify(message));
    return true;
  }

  #setState(state, detail = {}) {
    this.#state = state;
    this.onStatus(state, detail);
  }

  async #connect() {
    clearTimeout(this.#retryTimer);
    this.#setState("connecting");
    let token;
    try {
      token = await this.session.access();
    } catch (error) {
      if (this.#state !== "connecting") return;
      return error.status === 401 ? this.#fail(error.message) : this.#retry();
    }
    if (this.#state !== "connecting") return; // stopped meanwhile
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}${this.path}?token=${encodeURIComponent(token)}`);
    this.#ws = ws;
    ws.onmessage = (event) => {
      if (ws !== this.#ws) return;
      const receivedAt = performance.now();
      if (this.#state !== "live") {
        // Only a first message proves the server took us: an accepted-then-closed socket doesn't reset the backoff.
        this.#failures = 0;
        this.#authRetries = 0;
        this.#setState("live");
      }
      this.#listen();
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      this.onMessage(message, receivedAt);
    };
    ws.onclose = (event) => {
      if (ws !== this.#ws) return;
      this.#ws = null;
      clearTimeout(this.#silenceTimer);
      this.#closed(event.code, this.#state === "live");
    };
  }

  #closed(code, wasLive) {
    if (this.#state === "stopped" || this.#state === "failed") return;
    if (code === CLOSE_UNAUTHENTICATED) {
      if (++this.#authRetries > MAX_AUTH_RETRIES) return this.#fail("Your session has expired; please sign in again.");
      this.#setState("connecting");
      this.session.refresh().then(
        () => this.#state === "connecting" && this.#connect(),
        (error) => (error.status === 401 ? this.#fail(error.message) : this.#retry()),
      );
      return;
    }
    if (code === CLOSE_FORBIDDEN) return this.#fail(this.messages.forbidden || "You are not allowed to watch this.");
    if (code === CLOSE_NOT_FOUND) return this.#fail(this.messages.notFound || "This no longer exists.");
    if ((code === CLOSE_SERVICE_RESTART || code === CLOSE_GOING_AWAY) && wasLive) {
      // A deploy: this server is going, another one is up. Reconnect now, not after a backoff
      // (one that closes before saying anything is a failure like any other: no reconnect loop).
      this.#failures = 0;
      return this.#retry(Math.random() * RESTART_JITTER_MS);
    }
    this.#retry();
  }

  #retry(delay = Math.min(MAX_DELAY_MS, 500 * 2 ** this.#failures++) * (0.8 + 0.4 * Math.random())) {
    this.#setState("waiting", { retryInMs: delay });
    this.#retryTimer = setTimeout(() => this.#connect(), delay);
  }

  #fail(message) {
    this.#drop(1000);
    this.#setState("failed", { message });
  }

  /** Restart the silence watchdog: a half-open connection shows up as no messages at all. */
  #listen() {
    if (!this.silenceMs) return;
    clearTimeout(this.#silenceTimer);
    this.#silenceTimer = setTimeout(() => {
      if (this.#state !== "live") return;
      this.#drop(4000);
      this.#retry();
    }, this.silenceMs);
  }

  #drop(code) {
    clearTimeout(this.#silenceTimer);
    const ws = this.#ws;
    this.#ws = null;
    if (!ws) return;
    // Closing a socket that is still connecting makes the browser log an error: wait for it to open.
    if (ws.readyState === WebSocket.CONNECTING) ws.onopen = () => ws.close(code);
    else if (ws.readyState === WebSocket.OPEN) ws.close(code);
  }
}
