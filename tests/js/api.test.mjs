// web/static/web/api.js: signing in, tokens refreshed before they expire and on a 401 (one
// refresh for many callers), the session ending, and every failure as an ApiError.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { ApiError, Session } from "../../web/static/web/api.js";
import { FakeHost } from "./fake-host.mjs";

const KEY = "exam.test.tokens";
const NOW = Date.UTC(2030, 0, 1) / 1000; // the fake host's system clock at monotonic time 0, in seconds

/** An unsigned JWT with these claims (the client only reads them). */
function jwt(claims) {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "none" })}.${part(claims)}.sig`;
}

const json = (status, body) => new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

/** A signed-in session whose access token has `ttl` seconds left of a 300 s lifetime. */
function signedIn({ ttl = 300, host = new FakeHost() } = {}) {
  const access = jwt({ exp: NOW + ttl, iat: NOW + ttl - 300 });
  host.sessionStorage.setItem(KEY, JSON.stringify({ access, refresh: "r0" }));
  const session = new Session(KEY, host);
  const expired = [];
  session.onExpired = (error) => expired.push(error);
  return { session, host, access, expired };
}

/** A server that answers refreshes with token `a<n>` and every other path with its handler. */
function serve(host, handler) {
  let refreshes = 0;
  host.server = (request) => {
    if (request.path === "/api/auth/refresh/") return json(200, { access: `a${++refreshes}` });
    return handler(request);
  };
  return () => refreshes;
}

describe("signing in", () => {
  test("stores both tokens for the tab; a reloaded page is still signed in", async () => {
    const host = new FakeHost();
    host.server = (request) => {
      assert.deepEqual(request.body, { username: "ann", password: "pw" });
      return json(200, { access: "A", refresh: "R" });
    };
    const session = new Session(KEY, host);
    assert.equal(session.signedIn, false);
    await session.login("ann", "pw");
    assert.equal(session.signedIn, true);
    assert.deepEqual(JSON.parse(host.sessionStorage.getItem(KEY)), { access: "A", refresh: "R" });
    assert.equal(new Session(KEY, host).signedIn, true);
  });

  test("a wrong password is bad_credentials; other refusals carry the contract's code", async () => {
    const host = new FakeHost();
    const session = new Session(KEY, host);
    host.server = () => json(401, { error: { code: "no_active_account", message: "No." } });
    await assert.rejects(session.login("ann", "x"), { status: 401, code: "bad_credentials", message: "Wrong username or password." });
    host.server = () => json(429, { error: { code: "throttled", message: "Too many attempts." } });
    await assert.rejects(session.login("ann", "x"), { status: 429, code: "throttled", message: "Too many attempts." });
    assert.equal(session.signedIn, false);
  });

  test("signing out forgets the tokens", () => {
    const { session, host } = signedIn();
    session.signOut();
    assert.equal(session.signedIn, false);
    assert.equal(host.sessionStorage.getItem(KEY), null);
  });

  test("unreadable stored tokens: signed out", () => {
    const host = new FakeHost();
    host.sessionStorage.setItem(KEY, "{oops");
    assert.equal(new Session(KEY, host).signedIn, false);
  });
});

describe("requests", () => {
  test("carry the access token and JSON, and resolve to the body", async () => {
    const { session, host, access } = signedIn();
    host.server = () => json(200, { ok: 1 });
    assert.deepEqual(await session.post("/api/x/", { a: 1 }), { ok: 1 });
    const [request] = host.requests;
    assert.equal(request.method, "POST");
    assert.equal(request.headers.Authorization, `Bearer ${access}`);
    assert.equal(request.headers["Content-Type"], "application/json");
    assert.deepEqual(request.body, { a: 1 });
    await session.get("/api/y/");
    assert.equal(host.requests[1].method, "GET");
    assert.equal(host.requests[1].body, undefined);
    assert.equal(host.requests[1].headers["Content-Type"], undefined);
  });

  test("timed: the whole reply with its monotonic send and arrival times", async () => {
    const { session, host } = signedIn();
    host.time = 1_000;
    host.server = () => {
      host.time = 1_250;
      return json(200, { server_time: "2030-01-01T00:00:00.000Z" });
    };
    const reply = await session.get("/api/remaining/", { timed: true });
    assert.deepEqual(reply, { status: 200, data: { server_time: "2030-01-01T00:00:00.000Z" }, sent: 1_000, received: 1_250 });
  });

  test("an error body becomes an ApiError with its code; anything else a server_error", async () => {
    const { session, host } = signedIn();
    host.server = () => json(410, { error: { code: "time_up", message: "Time is up." } });
    const error = await session.post("/api/answer/").catch((e) => e);
    assert.ok(error instanceof ApiError);
    assert.deepEqual([error.status, error.code, error.message], [410, "time_up", "Time is up."]);
    host.server = () => new Response("<html>Bad gateway</html>", { status: 502 });
    await assert.rejects(session.get("/api/x/"), {
      status: 502,
      code: "server_error",
      message: "The server answered with an unexpected error (HTTP 502).",
    });
  });

  test("no answer at all is status 0, offline; a timeout says so", async () => {
    const { session, host } = signedIn();
    host.server = () => {
      throw new TypeError("Failed to fetch");
    };
    await assert.rejects(session.get("/api/x/"), { status: 0, code: "offline", message: "Can't reach the server; check your connection." });
    host.server = () => {
      throw new DOMException("signal timed out", "TimeoutError");
    };
    await assert.rejects(session.get("/api/x/"), { status: 0, code: "offline", message: "The server did not answer in time." });
  });
});

describe("keeping the session alive", () => {
  test("a token with life left is used as it is", async () => {
    const { session, host, access } = signedIn({ ttl: 31 });
    serve(host, () => json(200, {}));
    assert.equal(await session.access(), access);
    assert.equal(host.requests.length, 0);
  });

  test("a token about to expire (30 s, or a quarter of its life) is refreshed first", async () => {
    const { session, host } = signedIn({ ttl: 29 });
    const refreshes = serve(host, () => json(200, {}));
    assert.equal(await session.access(), "a1");
    assert.equal(refreshes(), 1);
    assert.deepEqual(host.requests[0].body, { refresh: "r0" });
    assert.deepEqual(JSON.parse(host.sessionStorage.getItem(KEY)), { access: "a1", refresh: "r0" });

    // A 40 s token: refreshed in its last 10 s.
    const short = new FakeHost();
    short.sessionStorage.setItem(KEY, JSON.stringify({ access: jwt({ exp: NOW + 11, iat: NOW - 29 }), refresh: "r" }));
    const s = new Session(KEY, short);
    serve(short, () => json(200, {}));
    await s.access();
    assert.equal(short.requests.length, 0);
    short.time = 1_001;
    assert.equal(await s.access(), "a1");
  });

  test("renewAt: when a token is due (what access() and the sockets' in-band auth go by)", () => {
    const { session } = signedIn();
    assert.equal(session.renewAt(jwt({ exp: NOW + 300, iat: NOW })), (NOW + 270) * 1000);
    assert.equal(session.renewAt(jwt({ exp: NOW + 40, iat: NOW })), (NOW + 30) * 1000);
    assert.equal(session.renewAt(jwt({ exp: NOW + 40 })), (NOW + 10) * 1000, "no iat: a 300 s life is assumed");
    assert.equal(session.renewAt(jwt({ iat: NOW })), null);
    assert.equal(session.renewAt("garbage"), null);
  });

  test("expiry is judged on the server's clock the page gives it", async () => {
    const { session, host } = signedIn({ ttl: 300 });
    serve(host, () => json(200, {}));
    session.now = () => (NOW + 290) * 1000; // the system clock is 5 min slow
    assert.equal(await session.access(), "a1");
  });

  test("many callers at once: one refresh", async () => {
    const { session, host } = signedIn({ ttl: 5 });
    const refreshes = serve(host, () => json(200, {}));
    const tokens = await Promise.all([session.access(), session.access(), session.refresh(), session.get("/api/x/")]);
    assert.deepEqual(tokens.slice(0, 3), ["a1", "a1", "a1"]);
    assert.equal(refreshes(), 1);
    await session.refresh();
    assert.equal(refreshes(), 2, "a later refresh is a new one");
  });

  test("a 401 on a call: one fresh token, one retry", async () => {
    const { session, host } = signedIn();
    let calls = 0;
    serve(host, (request) => (++calls === 1 ? json(401, {}) : json(200, { token: request.headers.Authorization })));
    assert.deepEqual(await session.get("/api/x/"), { token: "Bearer a1" });
    assert.equal(calls, 2);
  });

  test("a 401 again after the retry ends the session", async () => {
    const { session, host, expired } = signedIn();
    serve(host, () => json(401, {}));
    await assert.rejects(session.get("/api/x/"), { status: 401, code: "session_expired" });
    assert.equal(session.signedIn, false);
    assert.equal(host.sessionStorage.getItem(KEY), null);
    assert.equal(expired.length, 1);
  });

  test("a refused refresh token ends the session; a failed refresh does not", async () => {
    const { session, host, expired } = signedIn();
    host.server = () => json(503, { error: { code: "service_unavailable", message: "Later." } });
    await assert.rejects(session.refresh(), { status: 503, code: "service_unavailable" });
    assert.equal(session.signedIn, true);
    host.server = () => json(401, { error: { code: "token_not_valid", message: "No." } });
    await assert.rejects(session.refresh(), { status: 401, code: "session_expired" });
    assert.deepEqual([session.signedIn, expired.length], [false, 1]);
  });

  test("a refresh that rotates the refresh token keeps the new one", async () => {
    const { session, host } = signedIn();
    host.server = () => json(200, { access: "A2", refresh: "R2" });
    assert.equal(await session.refresh(), "A2");
    assert.deepEqual(session.tokens, { access: "A2", refresh: "R2" });
  });

  test("signed out: every call fails at once as session_expired, without a request", async () => {
    const host = new FakeHost();
    const session = new Session(KEY, host);
    const expired = [];
    session.onExpired = (error) => expired.push(error.code);
    await assert.rejects(session.get("/api/x/"), { status: 401, code: "session_expired" });
    await assert.rejects(session.refresh(), { status: 401, code: "session_expired" });
    assert.deepEqual([host.requests.length, expired], [0, ["session_expired", "session_expired"]]);
  });
});
