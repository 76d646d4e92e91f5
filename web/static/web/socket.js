// @ts-check
// A WebSocket that stays connected: it reconnects with backoff, takes a fresh access token
// before each connection, and follows the contract's close codes (1012 and 1001 reconnect now;
// 4401 refresh and retry; 4403 and 4404 are final; 4429, too many sockets, waits and retries).
// A socket lives only as long as its token: before the token is due, the socket sends the
// server a fresh one in an `auth` message and stays open.

import { browserHost } from "./host.js";

/** @typedef {import("./host.js").Host} Host */
/** @typedef {import("./host.js").SocketLike} SocketLike */
/** @typedef {"idle" | "connecting" | "live" | "waiting" | "failed" | "stopped"} SocketState */
/**
 * The part of the REST client's Session a socket uses.
 * @typedef {object} SocketSession
 * @property {() => Promise<string>} access an access token with some life left
 * @property {() => Promise<string>} refresh a new access token
 * @property {(token: string) => number | null} renewAt when the token is due for renewal (on `now`'s clock)
 * @property {() => number} now the server's time in epoch milliseconds
 */
/**
 * @typedef {object} SocketOptions
 * @property {string | (() => string)} path the socket's path (the access token is added), or what gives it at each connect
 * @property {SocketSession} session the REST client (a Session)
 * @property {(message: any, receivedAt: number) => void} onMessage each message, parsed, with its monotonic arrival time
 * @property {(state: "connecting" | "live" | "waiting" | "failed", detail: {retryInMs?: number, message?: string}) => void} onStatus
 * @property {{forbidden?: string, notFound?: string}} [messages] what to say for 4403 and 4404
 * @property {number | null} [silenceMs] reconnect when a socket that should talk regularly says nothing this long
 * @property {Host} [host]
 */

const MAX_DELAY_MS = 10_000;
const MAX_AUTH_RETRIES = 2;
// A server shutting down closes a whole room at once: spread the reconnects over this long.
const RESTART_JITTER_MS = 500;
// A renewal that could not get a token (offline) tries again this soon; at worst the server
// closes at the token's expiry (4401) and the socket reconnects with a fresh one.
const RENEW_RETRY_MS = 5_000;
// WebSocket.readyState values (the same in every browser; a test's fake socket has no class constants).
const CONNECTING = 0;
const OPEN = 1;

export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_SERVICE_RESTART = 1012;

export const CLOSE_UNAUTHENTICATED = 4401;
export const CLOSE_FORBIDDEN = 4403;
export const CLOSE_NOT_FOUND = 4404;
export const CLOSE_TOO_MANY_SOCKETS = 4429;

export class LiveSocket {
  /** @type {SocketLike | null} */
  #ws = null;
  /** @type {SocketState} */
  #state = "idle";
  #failures = 0;
  #authRetries = 0;
  /** @type {number | undefined} */
  #retryTimer;
  /** @type {number | undefined} */
  #silenceTimer;
  /** @type {string | null} the access token the server holds for the current connection */
  #token = null;
  /** @type {number | undefined} */
  #renewTimer;
  #authSent = 0;
  /** @type {string | null} the request_id of the last `auth` sent: its reply is the socket's, not the page's */
  #authRequest = null;
  #wake = () => {
    if (this.#state === "waiting" && this.host.document.visibilityState !== "hidden") {
      this.#failures = 0;
      this.#connect();
    }
  };

  /** @param {SocketOptions} options */
  constructor({ path, session, onMessage, onStatus, messages = {}, silenceMs = null, host = browserHost }) {
    this.path = path;
    this.session = session;
    this.onMessage = onMessage;
    this.onStatus = onStatus;
    this.messages = messages;
    this.silenceMs = silenceMs;
    this.host = host;
  }

  /** True while connected and heard from. */
  get isLive() {
    return this.#state === "live" && this.#ws !== null && this.#ws.readyState === OPEN;
  }

  /**
   * Connect, and reconnect whenever the connection is lost, until `stop()`.
   * @returns {void}
   */
  start() {
    this.host.window.addEventListener("online", this.#wake);
    this.host.document.addEventListener("visibilitychange", this.#wake);
    this.#connect();
  }

  /** @returns {void} */
  stop() {
    this.#state = "stopped";
    this.host.window.removeEventListener("online", this.#wake);
    this.host.document.removeEventListener("visibilitychange", this.#wake);
    this.host.clearTimeout(this.#retryTimer);
    this.#drop(1000);
  }

  /**
   * Send a message if the socket is live; false when it is not (the caller falls back).
   * @param {object} message
   * @returns {boolean}
   */
  send(message) {
    if (!this.isLive || this.#ws === null) return false;
    this.#ws.send(JSON.stringify(message));
    return true;
  }

  /**
   * @param {"connecting" | "live" | "waiting" | "failed"} state
   * @param {{retryInMs?: number, message?: string}} [detail]
   */
  #setState(state, detail = {}) {
    this.#state = state;
    this.onStatus(state, detail);
  }

  async #connect() {
    this.host.clearTimeout(this.#retryTimer);
    this.#setState("connecting");
    let token;
    try {
      token = await this.session.access();
    } catch (error) {
      if (this.#state !== "connecting") return;
      const failure = /** @type {{status?: number, message: string}} */ (error);
      return failure.status === 401 ? this.#fail(failure.message) : this.#retry();
    }
    if (this.#state !== "connecting") return; // stopped meanwhile
    const path = typeof this.path === "function" ? this.path() : this.path;
    const ws = this.host.openSocket(`${path}${path.includes("?") ? "&" : "?"}token=${encodeURIComponent(token)}`);
    this.#ws = ws;
    this.#token = token;
    ws.onmessage = (event) => {
      if (ws !== this.#ws) return;
      const receivedAt = this.host.monotonic();
      if (this.#state !== "live") {
        // Only a first message proves the server took us: an accepted-then-closed socket doesn't reset the backoff.
        this.#failures = 0;
        this.#authRetries = 0;
        this.#setState("live");
        this.#scheduleRenewal();
      }
      this.#listen();
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      // The reply to our `auth` (`auth_ok`, or an error: then the server closes with 4401 at the
      // old token's expiry and the socket reconnects with a fresh one).
      if (this.#authRequest !== null && message && message.request_id === this.#authRequest) return;
      this.onMessage(message, receivedAt);
    };
    ws.onclose = (event) => {
      if (ws !== this.#ws) return;
      this.#ws = null;
      this.host.clearTimeout(this.#silenceTimer);
      this.host.clearTimeout(this.#renewTimer);
      this.#closed(event.code, this.#state === "live");
    };
  }

  /** Renew the server's copy of the token when the session says it is due. */
  #scheduleRenewal() {
    this.host.clearTimeout(this.#renewTimer);
    const at = this.#token === null ? null : this.session.renewAt(this.#token);
    if (at === null) return;
    this.#renewTimer = this.host.setTimeout(() => this.#renew(), Math.max(0, at - this.session.now()));
  }

  /** Send the server a fresh access token in-band (`auth`), so this connection outlives the old one. */
  async #renew() {
    const ws = this.#ws;
    if (!this.isLive || ws === null) return;
    let token;
    try {
      token = await this.session.access();
    } catch (error) {
      if (ws !== this.#ws) return;
      const failure = /** @type {{status?: number, message: string}} */ (error);
      if (failure.status === 401) return this.#fail(failure.message);
      this.#renewTimer = this.host.setTimeout(() => this.#renew(), RENEW_RETRY_MS);
      return;
    }
    if (ws !== this.#ws || !this.isLive) return;
    if (token === this.#token) {
      // Not due yet on the session's clock (a timer that fired early): look again shortly.
      this.#renewTimer = this.host.setTimeout(() => this.#renew(), 1_000);
      return;
    }
    this.#token = token;
    this.#authRequest = `auth-${++this.#authSent}`;
    ws.send(JSON.stringify({ type: "auth", token, request_id: this.#authRequest }));
    this.#scheduleRenewal();
  }

  /**
   * @param {number} code
   * @param {boolean} wasLive
   */
  #closed(code, wasLive) {
    if (this.#state === "stopped" || this.#state === "failed") return;
    if (code === CLOSE_UNAUTHENTICATED) {
      if (++this.#authRetries > MAX_AUTH_RETRIES) return this.#fail("Your session has expired; please sign in again.");
      this.#setState("connecting");
      this.session.refresh().then(
        () => {
          if (this.#state === "connecting") this.#connect();
        },
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
      return this.#retry(this.host.random() * RESTART_JITTER_MS);
    }
    this.#retry();
  }

  /** Wait, then connect again: exponential backoff from 0.5 s to 10 s, ±20 % jitter, unless told how long. */
  #retry(delay = Math.min(MAX_DELAY_MS, 500 * 2 ** this.#failures++) * (0.8 + 0.4 * this.host.random())) {
    this.#setState("waiting", { retryInMs: delay });
    this.#retryTimer = this.host.setTimeout(() => this.#connect(), delay);
  }

  /** @param {string} message */
  #fail(message) {
    this.#drop(1000);
    this.#setState("failed", { message });
  }

  /** Restart the silence watchdog: a half-open connection shows up as no messages at all. */
  #listen() {
    if (!this.silenceMs) return;
    this.host.clearTimeout(this.#silenceTimer);
    this.#silenceTimer = this.host.setTimeout(() => {
      if (this.#state !== "live") return;
      this.#drop(4000);
      this.#retry();
    }, this.silenceMs);
  }

  /** @param {number} code */
  #drop(code) {
    this.host.clearTimeout(this.#silenceTimer);
    this.host.clearTimeout(this.#renewTimer);
    const ws = this.#ws;
    this.#ws = null;
    if (!ws) return;
    // Closing a socket that is still connecting makes the browser log an error: wait for it to open.
    if (ws.readyState === CONNECTING) ws.onopen = () => ws.close(code);
    else if (ws.readyState === OPEN) ws.close(code);
  }
}
