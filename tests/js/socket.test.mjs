// web/static/web/socket.js: connecting with a fresh token, going live on the first message,
// reconnect backoff, the contract's close codes, renewing the token in-band, the silence
// watchdog, waking up and stopping.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { LiveSocket } from "../../web/static/web/socket.js";
import { FakeHost } from "./fake-host.mjs";

/**
 * The socket's session: hands out tokens; a test can make the next access or refresh fail.
 * A token is due for renewal at `dueAt[token]` (the host's wall clock), if set: `access()`
 * refreshes it from then on, as a Session does.
 */
class FakeSession {
  accessCalls = 0;
  refreshCalls = 0;
  token = "t0";
  accessError = null;
  refreshError = null;
  dueAt = {};
  constructor(host) {
    this.now = () => host.wall();
  }
  renewAt(token) {
    return this.dueAt[token] ?? null;
  }
  async access() {
    this.accessCalls++;
    if (this.accessError) throw this.accessError;
    const due = this.renewAt(this.token);
    return due !== null && this.now() >= due ? this.refresh() : this.token;
  }
  async refresh() {
    this.refreshCalls++;
    if (this.refreshError) throw this.refreshError;
    this.token = `t${this.refreshCalls}`;
    return this.token;
  }
}

function liveSocket(options = {}) {
  const host = new FakeHost();
  const session = new FakeSession(host);
  const statuses = [];
  const received = [];
  const socket = new LiveSocket({
    path: "/ws/attempts/3/",
    session,
    host,
    onMessage: (message, at) => received.push([message, at]),
    onStatus: (state, detail) => statuses.push([state, detail]),
    ...options,
  });
  const last = () => statuses.at(-1);
  return { socket, host, session, statuses, received, last };
}

/** Start, then let the server accept and say something: the socket is live. */
async function goLive(t) {
  t.socket.start();
  await t.host.advance(0);
  t.host.socket.open();
  t.host.socket.receive({ type: "timer" });
}

/** Close the current fake socket from the server's side, then run the reconnect's promises. */
async function serverClose(t, code) {
  t.host.socket.serverClose(code);
  await t.host.advance(0);
}

describe("connecting", () => {
  test("takes a token, opens the path with it, and goes live on the first message", async () => {
    const t = liveSocket();
    t.session.token = "a b/c";
    t.socket.start();
    assert.deepEqual(t.last(), ["connecting", {}]);
    await t.host.advance(0);
    assert.equal(t.host.sockets.length, 1);
    assert.equal(t.host.socket.url, "/ws/attempts/3/?token=a%20b%2Fc");
    t.host.socket.open();
    assert.equal(t.socket.isLive, false, "accepted is not yet live");
    assert.equal(t.socket.send({ type: "answer" }), false);
    t.host.time = 1_234;
    t.host.socket.receive({ type: "timer", status: "ongoing" });
    assert.deepEqual(t.last(), ["live", {}]);
    assert.equal(t.socket.isLive, true);
    assert.deepEqual(t.received, [[{ type: "timer", status: "ongoing" }, 1_234]]);
  });

  test("a path given as a function is asked again at each connect, the token joined to its query", async () => {
    let since = null;
    const t = liveSocket({ path: () => `/ws/proctor/exams/3/${since ? `?since=${since}` : ""}` });
    await goLive(t);
    assert.equal(t.host.socket.url, "/ws/proctor/exams/3/?token=t0");
    since = "2026-11-26T07%3A00%3A00.000Z";
    await serverClose(t, 1012);
    await t.host.advance(500);
    assert.equal(t.host.sockets.length, 2);
    assert.equal(t.host.socket.url, "/ws/proctor/exams/3/?since=2026-11-26T07%3A00%3A00.000Z&token=t0");
  });

  test("sends JSON while live", async () => {
    const t = liveSocket();
    await goLive(t);
    assert.equal(t.socket.send({ type: "answer", question_id: 1 }), true);
    assert.deepEqual(t.host.socket.messages, [{ type: "answer", question_id: 1 }]);
  });

  test("a message that is not JSON is dropped, but still proves the server took us", async () => {
    const t = liveSocket();
    t.socket.start();
    await t.host.advance(0);
    t.host.socket.open();
    t.host.socket.receive("not json");
    assert.deepEqual([t.last()[0], t.received], ["live", []]);
  });

  test("a 401 while taking a token is final; anything else is retried", async () => {
    const t = liveSocket();
    t.session.accessError = { status: 401, message: "Signed out." };
    t.socket.start();
    await t.host.advance(0);
    assert.deepEqual(t.last(), ["failed", { message: "Signed out." }]);
    assert.equal(t.host.sockets.length, 0);

    const u = liveSocket();
    u.session.accessError = { status: 0, message: "Offline." };
    u.socket.start();
    await u.host.advance(0);
    assert.deepEqual(u.last(), ["waiting", { retryInMs: 500 }]);
    u.session.accessError = null;
    await u.host.advance(500);
    assert.equal(u.host.sockets.length, 1);
  });
});

describe("reconnecting", () => {
  test("backoff doubles from 0.5 s up to 10 s while connections fail", async () => {
    const t = liveSocket();
    t.socket.start();
    await t.host.advance(0);
    const waits = [];
    for (let i = 0; i < 7; i++) {
      await serverClose(t, 1006);
      const [state, { retryInMs }] = t.last();
      assert.equal(state, "waiting");
      waits.push(retryInMs);
      const opened = t.host.sockets.length;
      await t.host.advance(retryInMs - 1);
      assert.equal(t.host.sockets.length, opened, "not before the wait is over");
      await t.host.advance(1);
      assert.equal(t.host.sockets.length, opened + 1);
    }
    assert.deepEqual(waits, [500, 1_000, 2_000, 4_000, 8_000, 10_000, 10_000]);
  });

  test("the backoff has ±20 % jitter", async () => {
    for (const [random, wait] of [
      [0, 400],
      [0.999, 599.8],
    ]) {
      const t = liveSocket();
      t.host.randomValue = random;
      t.socket.start();
      await t.host.advance(0);
      await serverClose(t, 1006);
      assert.ok(Math.abs(t.last()[1].retryInMs - wait) < 1e-6, `${t.last()[1].retryInMs} != ${wait}`);
    }
  });

  test("a first message resets the backoff; a socket accepted then closed in silence does not", async () => {
    const t = liveSocket();
    t.socket.start();
    await t.host.advance(0);
    await serverClose(t, 1006); // 500
    await t.host.advance(500);
    t.host.socket.open();
    await serverClose(t, 1006); // accepted, said nothing: 1000
    assert.equal(t.last()[1].retryInMs, 1_000);
    await t.host.advance(1_000);
    t.host.socket.open();
    t.host.socket.receive({ type: "timer" });
    await serverClose(t, 1006);
    assert.equal(t.last()[1].retryInMs, 500);
  });

  test("1012 and 1001 from a live socket (a deploy): reconnect within 0.5 s and reset the backoff", async () => {
    for (const code of [1012, 1001]) {
      const t = liveSocket();
      t.socket.start();
      await t.host.advance(0);
      await serverClose(t, 1006);
      await t.host.advance(500);
      await serverClose(t, 1006);
      await t.host.advance(1_000);
      t.host.socket.open();
      t.host.socket.receive({ type: "timer" });
      t.host.randomValue = 0.3;
      await serverClose(t, code);
      assert.deepEqual(t.last(), ["waiting", { retryInMs: 150 }]);
      await t.host.advance(150);
      assert.equal(t.host.sockets.length, 4);
      t.host.randomValue = 0.5;
      await serverClose(t, 1006);
      assert.equal(t.last()[1].retryInMs, 500, "the backoff starts over");
    }
  });

  test("1012 before any message is a failure like any other (no reconnect loop)", async () => {
    const t = liveSocket();
    t.socket.start();
    await t.host.advance(0);
    await serverClose(t, 1006);
    await t.host.advance(500);
    t.host.socket.open();
    await serverClose(t, 1012);
    assert.deepEqual(t.last(), ["waiting", { retryInMs: 1_000 }]);
  });

  test("4401: a fresh token, then connect again at once", async () => {
    const t = liveSocket();
    await goLive(t);
    await serverClose(t, 4401);
    assert.equal(t.session.refreshCalls, 1);
    assert.deepEqual(t.last(), ["connecting", {}]);
    assert.equal(t.host.sockets.length, 2);
    assert.equal(t.host.socket.url, "/ws/attempts/3/?token=t1");
  });

  test("4401 three times in a row: the session is over", async () => {
    const t = liveSocket();
    t.socket.start();
    await t.host.advance(0);
    for (let i = 0; i < 2; i++) await serverClose(t, 4401);
    assert.equal(t.host.sockets.length, 3);
    await serverClose(t, 4401);
    assert.deepEqual(t.last(), ["failed", { message: "Your session has expired; please sign in again." }]);
    assert.equal(t.session.refreshCalls, 2);
    assert.deepEqual(t.host.pending, []);
  });

  test("4401 counts start over once the server takes us", async () => {
    const t = liveSocket();
    await goLive(t);
    for (let i = 0; i < 5; i++) {
      await serverClose(t, 4401);
      t.host.socket.open();
      t.host.socket.receive({ type: "timer" });
    }
    assert.equal(t.last()[0], "live");
  });

  test("4401 and a refresh refused with 401: failed; refused otherwise: wait and retry", async () => {
    const t = liveSocket();
    await goLive(t);
    t.session.refreshError = { status: 401, message: "Please sign in again." };
    await serverClose(t, 4401);
    assert.deepEqual(t.last(), ["failed", { message: "Please sign in again." }]);

    const u = liveSocket();
    await goLive(u);
    u.session.refreshError = { status: 503, message: "Unavailable." };
    await serverClose(u, 4401);
    assert.deepEqual(u.last(), ["waiting", { retryInMs: 500 }]);
  });

  test("4429 (too many sockets of this user): wait with backoff, then try again", async () => {
    const t = liveSocket();
    t.socket.start();
    await t.host.advance(0);
    t.host.socket.open();
    await serverClose(t, 4429);
    assert.deepEqual(t.last(), ["waiting", { retryInMs: 500 }]);
    await t.host.advance(500);
    assert.equal(t.host.sockets.length, 2);
  });

  test("4403 and 4404 are final, with the page's words", async () => {
    for (const [code, message] of [
      [4403, "Not yours."],
      [4404, "Gone."],
    ]) {
      const t = liveSocket({ messages: { forbidden: "Not yours.", notFound: "Gone." } });
      await goLive(t);
      await serverClose(t, code);
      assert.deepEqual(t.last(), ["failed", { message }]);
      assert.deepEqual(t.host.pending, []);
      await t.host.advance(60_000);
      assert.equal(t.host.sockets.length, 1);
    }
    const t = liveSocket();
    await goLive(t);
    await serverClose(t, 4404);
    assert.deepEqual(t.last(), ["failed", { message: "This no longer exists." }]);
  });
});

describe("renewing the token in-band", () => {
  /** A live socket whose token t0 is due in 60 s, and t1 (its refresh) 60 s after that. */
  async function liveWithDueToken() {
    const t = liveSocket();
    t.session.dueAt = { t0: t.host.wall() + 60_000, t1: t.host.wall() + 120_000 };
    await goLive(t);
    return t;
  }

  test("when the token is due, a fresh one goes over the open socket (`auth`), and again for the next", async () => {
    const t = await liveWithDueToken();
    await t.host.advance(59_999);
    assert.deepEqual(t.host.socket.messages, [], "not before it is due");
    await t.host.advance(1);
    assert.equal(t.session.refreshCalls, 1);
    assert.deepEqual(t.host.socket.messages, [{ type: "auth", token: "t1", request_id: "auth-1" }]);
    await t.host.advance(60_000);
    assert.deepEqual(t.host.socket.messages.at(-1), { type: "auth", token: "t2", request_id: "auth-2" });
    assert.equal(t.host.sockets.length, 1, "the same connection throughout");
    assert.equal(t.last()[0], "live");
  });

  test("the reply to our `auth` is the socket's; everything else still reaches the page", async () => {
    const t = await liveWithDueToken();
    await t.host.advance(60_001);
    t.host.socket.receive({ type: "auth_ok", expires_at: "2030-01-01T00:05:00Z", request_id: "auth-1" });
    t.host.socket.receive({ type: "error", code: "token_not_valid", message: "No.", request_id: "auth-1" });
    t.host.socket.receive({ type: "error", code: "invalid", message: "Yours.", request_id: "q-1" });
    assert.deepEqual(
      t.received.map(([message]) => message.type),
      ["timer", "error"],
    );
    assert.equal(t.received[1][0].request_id, "q-1");
  });

  test("a token without an expiry is never renewed in-band", async () => {
    const t = liveSocket();
    await goLive(t);
    await t.host.advance(3_600_000);
    assert.deepEqual(t.host.socket.messages, []);
  });

  test("no refresh possible: a 401 ends the session, anything else tries again in 5 s", async () => {
    const t = await liveWithDueToken();
    t.session.refreshError = { status: 503, message: "Unavailable." };
    await t.host.advance(60_001);
    assert.deepEqual(t.host.socket.messages, []);
    t.session.refreshError = null;
    await t.host.advance(5_000);
    assert.deepEqual(t.host.socket.messages, [{ type: "auth", token: "t2", request_id: "auth-1" }]);

    const u = await liveWithDueToken();
    u.session.refreshError = { status: 401, message: "Please sign in again." };
    await u.host.advance(60_001);
    assert.deepEqual(u.last(), ["failed", { message: "Please sign in again." }]);
    assert.equal(u.host.socket.closedWith, 1000);
  });

  test("a closed socket renews nothing; the next connection takes its own token and schedule", async () => {
    const t = await liveWithDueToken();
    const first = t.host.socket;
    await serverClose(t, 1006);
    await t.host.advance(60_001);
    assert.deepEqual(first.sent, []);
    assert.equal(t.host.sockets.length, 2, "reconnected once, after its backoff");
  });
});

describe("silence, waking and stopping", () => {
  test("a socket silent for silenceMs is dropped (4000) and reconnected; each message restarts the watch", async () => {
    const t = liveSocket({ silenceMs: 5_000 });
    await goLive(t);
    await t.host.advance(4_000);
    t.host.socket.receive({ type: "timer" });
    await t.host.advance(4_999);
    assert.equal(t.host.socket.closedWith, null);
    const silent = t.host.socket;
    await t.host.advance(1);
    assert.equal(silent.closedWith, 4000);
    assert.deepEqual(t.last(), ["waiting", { retryInMs: 500 }]);
    await t.host.advance(500);
    assert.equal(t.host.sockets.length, 2);
    // The dropped socket's own close event, arriving late, changes nothing.
    silent.onclose?.({ code: 4000 });
    assert.equal(t.last()[0], "connecting");
  });

  test("without silenceMs nothing watches", async () => {
    const t = liveSocket();
    await goLive(t);
    assert.deepEqual(t.host.pending, []);
  });

  test("coming online (or visible) while waiting connects at once and resets the backoff", async () => {
    const t = liveSocket();
    t.socket.start();
    await t.host.advance(0);
    await serverClose(t, 1006);
    await t.host.advance(500);
    await serverClose(t, 1006);
    assert.equal(t.last()[1].retryInMs, 1_000);
    t.host.window.dispatchEvent(new Event("online"));
    await t.host.advance(0);
    assert.equal(t.host.sockets.length, 3);
    assert.deepEqual(t.host.pending, [], "the backoff's timer is cancelled");
    await serverClose(t, 1006);
    assert.equal(t.last()[1].retryInMs, 500);
  });

  test("a page becoming hidden does not connect; becoming visible does", async () => {
    const t = liveSocket();
    t.socket.start();
    await t.host.advance(0);
    await serverClose(t, 1006);
    t.host.document.visibilityState = "hidden";
    t.host.document.dispatchEvent(new Event("visibilitychange"));
    await t.host.advance(0);
    assert.equal(t.host.sockets.length, 1);
    t.host.document.visibilityState = "visible";
    t.host.document.dispatchEvent(new Event("visibilitychange"));
    await t.host.advance(0);
    assert.equal(t.host.sockets.length, 2);
  });

  test("waking while live changes nothing", async () => {
    const t = liveSocket();
    await goLive(t);
    t.host.window.dispatchEvent(new Event("online"));
    await t.host.advance(0);
    assert.equal(t.host.sockets.length, 1);
  });

  test("stop closes with 1000 and never reconnects", async () => {
    const t = liveSocket();
    await goLive(t);
    const ws = t.host.socket;
    t.socket.stop();
    assert.equal(ws.closedWith, 1000);
    ws.serverClose(1000);
    t.host.window.dispatchEvent(new Event("online"));
    await t.host.advance(60_000);
    assert.equal(t.host.sockets.length, 1);
    assert.equal(t.socket.send({ type: "answer" }), false);
  });

  test("stop while still connecting closes once the socket opens (no browser error)", async () => {
    const t = liveSocket();
    t.socket.start();
    await t.host.advance(0);
    const ws = t.host.socket;
    t.socket.stop();
    assert.equal(ws.closedWith, null);
    ws.open();
    assert.equal(ws.closedWith, 1000);
  });

  test("stop while taking a token opens nothing", async () => {
    const t = liveSocket();
    t.socket.start();
    t.socket.stop();
    await t.host.advance(0);
    assert.equal(t.host.sockets.length, 0);
  });
});
