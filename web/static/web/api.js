// The REST client: JSON in and out, a signed-in session whose access token is refreshed
// before it expires and on a 401, and every failure turned into an ApiError that carries
// the contract's error code and a message for a person.

const TIMEOUT_MS = 10_000;

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status; // 0 when the server could not be reached
    this.code = code;
  }

  get offline() {
    return this.status === 0;
  }

  /** Worth retrying later as it is: the network, throttling or a backing service failed. */
  get transient() {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

/** One HTTP exchange; resolves to `{status, data, sent, received}` (monotonic times). */
async function exchange(method, path, body, token) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  const sent = performance.now();
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(TIMEOUT_MS),
      cache: "no-store",
    });
  } catch (error) {
    const late = error.name === "TimeoutError";
    throw new ApiError(0, "offline", late ? "The server did not answer in time." : "Can't reach the server; check your connection.");
  }
  const received = performance.now();
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null; // not JSON (a proxy's error page): described below from the status
  }
  return { status: response.status, data, sent, received };
}

function errorFrom({ status, data }) {
  const error = data && data.error;
  if (error && error.code) return new ApiError(status, error.code, error.message || error.code);
  return new ApiError(status, "server_error", `The server answered with an unexpected error (HTTP ${status}).`);
}

/** The claims of a JWT (unverified: only to know when it expires). */
function claims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part.padEnd(Math.ceil(part.length / 4) * 4, "=")));
  } catch {
    return {};
  }
}

export class Session {
  #refreshing = null;

  /** Tokens live in sessionStorage under `key`: they survive a reload, not the closing of the tab. */
  constructor(key) {
    this.key = key;
    this.now = () => Date.now(); // replaced by the server clock's estimate once known
    this.onExpired = () => {};
    try {
      this.tokens = JSON.parse(sessionStorage.getItem(key));
    } catch {
      this.tokens = null;
    }
  }

  get signedIn() {
    return Boolean(this.tokens && this.tokens.access && this.tokens.refresh);
  }

  async login(username, password) {
    const reply = await exchange("POST", "/api/auth/login/", { username, password });
    if (reply.status === 401) throw new ApiError(401, "bad_credentials", "Wrong username or password.");
    if (reply.status !== 200) throw errorFrom(reply);
    this.#store({ access: reply.data.access, refresh: reply.data.refresh });
  }

  signOut() {
    this.tokens = null;
    sessionStorage.removeItem(this.key);
  }

  /** A new access token (one request however many callers ask at once). */
  refresh() {
    if (!this.#refreshing) {
      this.#refreshing = this.#refresh().finally(() => {
        this.#refreshing = null;
      });
    }
    return this.#refreshing;
  }

  async #refresh() {
    if (!this.signedIn) throw this.#expired();
    const reply = await exchange("POST", "/api/auth/refresh/", { refresh: this.tokens.refresh });
    if (reply.status === 401) throw this.#expired();
    if (reply.status !== 200) throw errorFrom(reply);
    this.#store({ access: reply.data.access, refresh: reply.data.refresh || this.tokens.refresh });
    return this.tokens.access;
  }

  #expired() {
    this.signOut();
    const error = new ApiError(401, "session_expired", "Your session has expired; please sign in again.");
    this.onExpired(error);
    return error;
  }

  #store(tokens) {
    this.tokens = tokens;
    sessionStorage.setItem(this.key, JSON.stringify(tokens));
  }

  /** An access token with some life left: refreshed first when it is about to expire. */
  async access() {
    if (!this.signedIn) throw this.#expired();
    const { exp, iat } = claims(this.tokens.access);
    if (exp) {
      const lifetime = iat ? exp - iat : 300;
      const margin = Math.min(30, lifetime / 4) * 1000;
      if (exp * 1000 - this.now() < margin) return this.refresh();
    }
    return this.tokens.access;
  }

  /** An authenticated call; resolves to the body, or `{data, sent, received}` when `timed`. */
  async request(method, path, body = undefined, { timed = false } = {}) {
    let reply = await exchange(method, path, body, await this.access());
    if (reply.status === 401) {
      // Expired early or revoked: one fresh token, one retry.
      reply = await exchange(method, path, body, await this.refresh());
      if (reply.status === 401) throw this.#expired();
    }
    if (reply.status < 200 || reply.status >= 300) throw errorFrom(reply);
    return timed ? reply : reply.data;
  }

  get(path, options) {
    return this.request("GET", path, undefined, options);
  }

  post(path, body = {}, options) {
    return this.request("POST", path, body, options);
  }
}
