// @ts-check
// The REST client: JSON in and out, a signed-in session whose access token is refreshed
// before it expires and on a 401, and every failure turned into an ApiError that carries
// the contract's error code and a message for a person.

import { browserHost } from "./host.js";

/** @typedef {import("./host.js").Host} Host */
/** @typedef {{access: string, refresh: string}} Tokens */
/** @typedef {{status: number, data: any, sent: number, received: number}} Reply  a response, with monotonic send and arrival times */

const TIMEOUT_MS = 10_000;

export class ApiError extends Error {
  /**
   * @param {number} status the HTTP status; 0 when the server could not be reached
   * @param {string} code the contract's error code
   * @param {string} message for a person
   */
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * One HTTP exchange; resolves to its Reply, rejects with an ApiError (status 0) when there is none.
 * @param {Pick<Host, "fetch" | "monotonic">} host
 * @param {string} method
 * @param {string} path
 * @param {unknown} body
 * @param {string} [token]
 * @returns {Promise<Reply>}
 */
async function exchange(host, method, path, body, token) {
  /** @type {Record<string, string>} */
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  const sent = host.monotonic();
  let response;
  try {
    response = await host.fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(TIMEOUT_MS),
      cache: "no-store",
    });
  } catch (error) {
    const late = error instanceof Error && error.name === "TimeoutError";
    throw new ApiError(0, "offline", late ? "The server did not answer in time." : "Can't reach the server; check your connection.");
  }
  const received = host.monotonic();
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null; // not JSON (a proxy's error page): described below from the status
  }
  return { status: response.status, data, sent, received };
}

/**
 * The ApiError of a failed reply: the contract's error body, or a description of the status.
 * @param {Reply} reply
 * @returns {ApiError}
 */
function errorFrom({ status, data }) {
  const error = data && data.error;
  if (error && error.code) return new ApiError(status, error.code, error.message || error.code);
  return new ApiError(status, "server_error", `The server answered with an unexpected error (HTTP ${status}).`);
}

/**
 * The claims of a JWT (unverified: only to know when it expires).
 * @param {string} token
 * @returns {{exp?: number, iat?: number}}
 */
function claims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part.padEnd(Math.ceil(part.length / 4) * 4, "=")));
  } catch {
    return {};
  }
}

export class Session {
  /** @type {Promise<string> | null} */
  #refreshing = null;
  /** @type {Tokens | null} */
  tokens = null;
  /** @type {() => number} the server's time in epoch milliseconds, once the page has a ServerClock */
  now;
  /** @type {(error: ApiError) => void} the session can't go on (the refresh token was refused): sign in again */
  onExpired = () => {};

  /**
   * Tokens live in sessionStorage under `key`: they survive a reload, not the closing of the tab.
   * @param {string} key
   * @param {Pick<Host, "fetch" | "monotonic" | "wall" | "sessionStorage">} host
   */
  constructor(key, host = browserHost) {
    this.key = key;
    this.host = host;
    this.now = () => host.wall(); // the system clock until the page sets its ServerClock's
    try {
      this.tokens = JSON.parse(host.sessionStorage.getItem(key) || "null");
    } catch {
      this.tokens = null;
    }
  }

  get signedIn() {
    return Boolean(this.tokens && this.tokens.access && this.tokens.refresh);
  }

  /**
   * Sign in; rejects with an ApiError (`bad_credentials` for a wrong name or password).
   * @param {string} username
   * @param {string} password
   * @returns {Promise<void>}
   */
  async login(username, password) {
    const reply = await exchange(this.host, "POST", "/api/auth/login/", { username, password });
    if (reply.status === 401) throw new ApiError(401, "bad_credentials", "Wrong username or password.");
    if (reply.status !== 200) throw errorFrom(reply);
    this.#store({ access: reply.data.access, refresh: reply.data.refresh });
  }

  /** @returns {void} */
  signOut() {
    this.tokens = null;
    this.host.sessionStorage.removeItem(this.key);
  }

  /**
   * A new access token (one request however many callers ask at once).
   * @returns {Promise<string>}
   */
  refresh() {
    if (!this.#refreshing) {
      this.#refreshing = this.#refresh().finally(() => {
        this.#refreshing = null;
      });
    }
    return this.#refreshing;
  }

  /** @returns {Promise<string>} */
  async #refresh() {
    if (!this.tokens || !this.signedIn) throw this.#expired();
    const refresh = this.tokens.refresh;
    const reply = await exchange(this.host, "POST", "/api/auth/refresh/", { refresh });
    if (reply.status === 401) throw this.#expired();
    if (reply.status !== 200) throw errorFrom(reply);
    this.#store({ access: reply.data.access, refresh: reply.data.refresh || refresh });
    return reply.data.access;
  }

  #expired() {
    this.signOut();
    const error = new ApiError(401, "session_expired", "Your session has expired; please sign in again.");
    this.onExpired(error);
    return error;
  }

  /** @param {Tokens} tokens */
  #store(tokens) {
    this.tokens = tokens;
    this.host.sessionStorage.setItem(this.key, JSON.stringify(tokens));
  }

  /**
   * When (on `now()`'s clock, epoch milliseconds) an access token is due for renewal: a little
   * before it expires (30 s, or a quarter of its life if that is shorter). null: it doesn't say.
   * @param {string} token
   * @returns {number | null}
   */
  renewAt(token) {
    const { exp, iat } = claims(token);
    if (!exp) return null;
    const lifetime = iat ? exp - iat : 300;
    return (exp - Math.min(30, lifetime / 4)) * 1000;
  }

  /**
   * An access token with some life left: refreshed first when it is due for renewal.
   * @returns {Promise<string>}
   */
  async access() {
    if (!this.tokens || !this.signedIn) throw this.#expired();
    const renewAt = this.renewAt(this.tokens.access);
    if (renewAt !== null && this.now() >= renewAt) return this.refresh();
    return this.tokens.access;
  }

  /**
   * An authenticated call; resolves to the body, or to the whole Reply when `timed`.
   * @param {string} method
   * @param {string} path
   * @param {unknown} [body]
   * @param {{timed?: boolean}} [options]
   * @returns {Promise<any>}
   */
  async request(method, path, body = undefined, { timed = false } = {}) {
    let reply = await exchange(this.host, method, path, body, await this.access());
    if (reply.status === 401) {
      // Expired early or revoked: one fresh token, one retry.
      reply = await exchange(this.host, method, path, body, await this.refresh());
      if (reply.status === 401) throw this.#expired();
    }
    if (reply.status < 200 || reply.status >= 300) throw errorFrom(reply);
    return timed ? reply : reply.data;
  }

  /**
   * @param {string} path
   * @param {{timed?: boolean}} [options]
   * @returns {Promise<any>}
   */
  get(path, options) {
    return this.request("GET", path, undefined, options);
  }

  /**
   * @param {string} path
   * @param {object} [body]
   * @param {{timed?: boolean}} [options]
   * @returns {Promise<any>}
   */
  post(path, body = {}, options) {
    return this.request("POST", path, body, options);
  }
}
