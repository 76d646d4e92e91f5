// web/static/web/answers.js: each choice reaches the server once confirmed, in the order chosen,
// over the socket or REST, through timeouts, failures, reloads and the end of the attempt.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { AnswerQueue } from "../../web/static/web/answers.js";
import { FakeHost } from "./fake-host.mjs";

const PATH = "/api/exam/timer/submit-answer/";

/** The queue's REST client: each post waits until the test answers it. */
class FakeSession {
  calls = [];
  post(path, body) {
    return new Promise((resolve, reject) => this.calls.push({ path, body, resolve, reject }));
  }
  /** The server saved the call's answer. */
  save(call, savedAt = "2030-01-01T00:00:00.000Z") {
    call.resolve({ question_id: call.body.question_id, selected_option: call.body.selected_option, saved_at: savedAt });
  }
}

/** The queue's socket: records the frames it was given while live. */
class FakeLiveSocket {
  live = true;
  frames = [];
  send(message) {
    if (!this.live) return false;
    this.frames.push(message);
    return true;
  }
}

function queue({ host = new FakeHost(), live = true, attemptId = 7 } = {}) {
  const session = new FakeSession();
  const socket = new FakeLiveSocket();
  socket.live = live;
  const states = [];
  const ended = [];
  const answers = new AnswerQueue({
    attemptId,
    session,
    socket,
    host,
    onState: (questionId, state, detail) => states.push({ questionId, state, ...detail }),
    onEnded: (error) => ended.push(error),
  });
  const lastState = (questionId) => states.filter((s) => s.questionId === questionId).at(-1);
  return { answers, session, socket, host, states, ended, lastState };
}

/** The server's reply to a socket frame. */
function savedFrame(frame, savedAt = "2030-01-01T00:00:00.000Z") {
  return { type: "answer_saved", question_id: frame.question_id, selected_option: frame.selected_option, saved_at: savedAt, request_id: frame.request_id };
}

describe("over the socket", () => {
  test("a choice is sent as an answer frame and saved when its reply arrives", () => {
    const { answers, socket, session, lastState } = queue();
    answers.choose(1, "b");
    assert.equal(socket.frames.length, 1);
    const [frame] = socket.frames;
    assert.deepEqual({ ...frame, request_id: undefined }, { type: "answer", question_id: 1, selected_option: "b", request_id: undefined });
    assert.equal(typeof frame.request_id, "string");
    assert.equal(lastState(1).state, "saving");
    assert.equal(answers.pendingCount, 1);

    answers.confirm(savedFrame(frame, "2030-01-01T00:00:05.000Z"));
    assert.deepEqual(lastState(1), { questionId: 1, state: "saved", option: "b", savedAt: "2030-01-01T00:00:05.000Z" });
    assert.equal(answers.pendingCount, 0);
    assert.equal(session.calls.length, 0);
  });

  test("each send has its own request id, and each waiting question one ack timer", () => {
    const { answers, socket, host } = queue();
    answers.choose(1, "a");
    answers.choose(1, "b");
    answers.choose(2, "a");
    const ids = socket.frames.map((f) => f.request_id);
    assert.equal(new Set(ids).size, 3);
    assert.deepEqual(host.pending, [4_000, 4_000]);
  });

  test("a refusal of an older choice leaves the newer one waiting", () => {
    const { answers, socket, ended, lastState } = queue();
    answers.choose(1, "a");
    answers.choose(1, "b");
    assert.equal(answers.reject({ type: "error", request_id: socket.frames[0].request_id, code: "time_up", message: "x" }), true);
    assert.deepEqual([answers.pendingCount, lastState(1).state, ended.length], [1, "saving", 0]);
  });

  test("no reply within 4 s: REST takes over", async () => {
    const { answers, socket, session, host, lastState } = queue();
    answers.choose(1, "c");
    await host.advance(3_999);
    assert.equal(session.calls.length, 0);
    await host.advance(1);
    assert.equal(session.calls.length, 1);
    assert.deepEqual(session.calls[0].body, { attempt_id: 7, question_id: 1, selected_option: "c" });
    assert.equal(session.calls[0].path, PATH);
    assert.equal(lastState(1).via, "rest");
    session.save(session.calls[0]);
    await host.advance(0);
    assert.equal(lastState(1).state, "saved");
    // The socket's late reply changes nothing.
    answers.confirm(savedFrame(socket.frames[0]));
    assert.equal(answers.pendingCount, 0);
  });

  test("a reply to an older choice does not mark the newer one saved", () => {
    const { answers, socket, lastState } = queue();
    answers.choose(1, "a");
    answers.choose(1, "b");
    const [first, second] = socket.frames;
    answers.confirm(savedFrame(first));
    assert.equal(answers.pendingCount, 1);
    assert.equal(lastState(1).state, "saving");
    answers.confirm(savedFrame(second));
    assert.deepEqual([answers.pendingCount, lastState(1).state, lastState(1).option], [0, "saved", "b"]);
  });

  test("an older choice that the server stored after the newer one: the newer one is sent again", () => {
    const { answers, socket, lastState } = queue();
    answers.choose(1, "a");
    answers.choose(1, "b");
    const [first, second] = socket.frames;
    answers.confirm(savedFrame(second, "2030-01-01T00:00:01.000Z"));
    assert.equal(answers.pendingCount, 0);
    answers.confirm(savedFrame(first, "2030-01-01T00:00:02.000Z"));
    assert.equal(socket.frames.length, 3);
    assert.deepEqual([socket.frames[2].question_id, socket.frames[2].selected_option], [1, "b"]);
    assert.equal(lastState(1).state, "saving");
  });

  test("an answer saved in another window is shown when nothing is waiting here", () => {
    const { answers, lastState } = queue();
    answers.confirm({ type: "answer_saved", question_id: 4, selected_option: "d", saved_at: "2030-01-01T00:00:09.000Z" });
    assert.deepEqual(lastState(4), { questionId: 4, state: "saved", option: "d", savedAt: "2030-01-01T00:00:09.000Z", external: true });
  });

  test("another window saving a different choice does not overwrite one waiting here", () => {
    const { answers, lastState } = queue();
    answers.choose(4, "a");
    answers.confirm({ type: "answer_saved", question_id: 4, selected_option: "d", saved_at: "2030-01-01T00:00:09.000Z" });
    assert.equal(answers.pendingCount, 1);
    assert.equal(lastState(4).state, "saving");
  });

  test("the socket refuses an answer: time_up ends the attempt, a bad choice is dropped", () => {
    const { answers, socket, ended, lastState } = queue();
    answers.choose(1, "a");
    answers.choose(2, "zz");
    const [one, two] = socket.frames;
    assert.equal(answers.reject({ type: "error", request_id: two.request_id, code: "invalid", message: "No such option." }), true);
    assert.deepEqual(lastState(2), { questionId: 2, state: "error", option: "zz", message: "No such option." });
    assert.equal(answers.pendingCount, 1);
    assert.deepEqual(ended, []);
    assert.equal(answers.reject({ type: "error", request_id: one.request_id, code: "time_up", message: "Time is up." }), true);
    assert.deepEqual(ended, [{ status: 410, code: "time_up", message: "Time is up." }]);
    assert.equal(lastState(1).state, "error");
  });

  test("an error that answers none of ours is left to the page", () => {
    const { answers } = queue();
    assert.equal(answers.reject({ type: "error", request_id: "someone-else", code: "invalid", message: "x" }), false);
    assert.equal(answers.reject({ type: "error", code: "invalid", message: "x" }), false);
  });

  test("a throttled answer is kept and sent again", async () => {
    const { answers, socket, host, lastState } = queue();
    answers.choose(1, "a");
    answers.reject({ type: "error", request_id: socket.frames[0].request_id, code: "throttled", message: "Slow down." });
    assert.equal(lastState(1).state, "offline");
    await host.advance(1_000);
    assert.equal(socket.frames.length, 2);
    assert.equal(socket.frames[1].selected_option, "a");
  });
});

describe("over REST", () => {
  test("issue 12: an answer sent offline is not labelled 'from another window' when the socket's copy comes after the REST reply", async () => {
    // Offline, the choice waits and goes over REST once the network is back; the server also
    // tells the attempt's sockets of that save. Whichever of the two arrives first, it is ours.
    const { answers, session, host, socket, states } = queue({ live: false });
    answers.choose(5, "c");
    session.calls[0].reject(Object.assign(new Error("Failed to fetch"), { status: 0 }));
    await host.advance(0);
    assert.equal(states.at(-1).state, "offline");
    socket.live = true;
    await host.advance(1000); // the retry: the socket is live again, so it goes there, then REST after no ack
    await host.advance(4000);
    const rest = session.calls.at(-1);
    assert.equal(rest.body.selected_option, "c");
    session.save(rest, "2030-01-01T00:00:07.000Z");
    await host.advance(0);
    answers.confirm({ type: "answer_saved", question_id: 5, selected_option: "c", saved_at: "2030-01-01T00:00:07.000Z" });
    assert.equal(states.filter((s) => s.external).length, 0, JSON.stringify(states));
    assert.deepEqual(states.at(-1), { questionId: 5, state: "saved", option: "c", savedAt: "2030-01-01T00:00:07.000Z" });
  });

  test("a later save of the same option from another window is still shown as one", async () => {
    const { answers, session, host, lastState } = queue({ live: false });
    answers.choose(5, "c");
    session.save(session.calls[0], "2030-01-01T00:00:07.000Z");
    await host.advance(0);
    answers.confirm({ type: "answer_saved", question_id: 5, selected_option: "c", saved_at: "2030-01-01T00:00:30.000Z" });
    assert.equal(lastState(5).external, true);
  });

  test("with the socket down, a choice goes over REST at once", async () => {
    const { answers, session, host, lastState } = queue({ live: false });
    answers.choose(3, "a");
    assert.equal(session.calls.length, 1);
    session.save(session.calls[0], "2030-01-01T00:00:03.000Z");
    await host.advance(0);
    assert.deepEqual(lastState(3), { questionId: 3, state: "saved", option: "a", savedAt: "2030-01-01T00:00:03.000Z" });
  });

  test("a newer choice waits for the call in flight, then goes", async () => {
    const { answers, session, host, lastState } = queue({ live: false });
    answers.choose(3, "a");
    answers.choose(3, "b");
    assert.equal(session.calls.length, 1, "one call per question at a time, so they can't arrive out of order");
    session.save(session.calls[0]);
    await host.advance(0);
    assert.equal(session.calls.length, 2);
    assert.equal(session.calls[1].body.selected_option, "b");
    assert.equal(lastState(3).state, "saving");
    session.save(session.calls[1]);
    await host.advance(0);
    assert.deepEqual([lastState(3).state, lastState(3).option, answers.pendingCount], ["saved", "b", 0]);
  });

  test("offline: kept and retried with backoff (1, 2, 4, 8, 15, 15 s), reset by a success", async () => {
    const { answers, session, host, lastState } = queue({ live: false });
    answers.choose(1, "a");
    const retries = [];
    for (let i = 0; i < 6; i++) {
      session.calls.at(-1).reject({ status: 0, message: "Can't reach the server." });
      await host.advance(0);
      assert.equal(lastState(1).state, "offline");
      const before = host.time;
      const calls = session.calls.length;
      while (session.calls.length === calls) await host.advance(100);
      retries.push(host.time - before);
    }
    assert.deepEqual(retries, [1_000, 2_000, 4_000, 8_000, 15_000, 15_000]);
    session.save(session.calls.at(-1));
    await host.advance(0);
    assert.equal(lastState(1).state, "saved");
    answers.choose(1, "b");
    session.calls.at(-1).reject({ status: 503, message: "Unavailable." });
    await host.advance(0);
    assert.deepEqual(host.pending, [1_000]);
  });

  test("410 and 409 end the attempt", async () => {
    for (const status of [410, 409]) {
      const { answers, session, host, ended, lastState } = queue({ live: false });
      answers.choose(1, "a");
      session.calls[0].reject({ status, message: "Over." });
      await host.advance(0);
      assert.deepEqual(ended, [{ status, message: "Over." }]);
      assert.equal(lastState(1).state, "error");
    }
  });

  test("400, 403 and 404 drop the choice: it can never be saved as it is", async () => {
    for (const status of [400, 403, 404]) {
      const { answers, session, host, ended, lastState } = queue({ live: false });
      answers.choose(1, "a");
      session.calls[0].reject({ status, message: "No." });
      await host.advance(0);
      assert.deepEqual([lastState(1).state, answers.pendingCount, ended.length], ["error", 0, 0]);
      assert.deepEqual(host.pending, [], "no retry");
    }
  });

  test("flush sends every waiting choice again (the socket came back)", async () => {
    const { answers, session, socket, host } = queue({ live: false });
    answers.choose(1, "a");
    answers.choose(2, "b");
    for (const call of session.calls) call.reject({ status: 0, message: "offline" });
    await host.advance(0);
    socket.live = true;
    answers.flush();
    assert.deepEqual(
      socket.frames.map((f) => [f.question_id, f.selected_option]),
      [
        [1, "a"],
        [2, "b"],
      ],
    );
    assert.deepEqual(host.pending, [4_000, 4_000], "only the ack timers: flush cancelled the retry");
  });
});

describe("across reloads and the end of the attempt", () => {
  test("waiting choices are kept in storage until saved, then removed", async () => {
    const host = new FakeHost();
    const { answers, socket } = queue({ host });
    answers.choose(1, "a");
    answers.choose(2, "b");
    assert.deepEqual(JSON.parse(host.storage.getItem("exam.pending-answers.7")), { 1: "a", 2: "b" });
    answers.confirm(savedFrame(socket.frames[0]));
    assert.deepEqual(JSON.parse(host.storage.getItem("exam.pending-answers.7")), { 2: "b" });
    answers.confirm(savedFrame(socket.frames[1]));
    assert.equal(host.storage.getItem("exam.pending-answers.7"), null);
  });

  test("a new page resumes what the last one left unsent", () => {
    const host = new FakeHost();
    queue({ host }).answers.choose(5, "c");
    const { answers, socket, lastState } = queue({ host });
    answers.resume();
    assert.deepEqual(
      socket.frames.map((f) => [f.question_id, f.selected_option]),
      [[5, "c"]],
    );
    assert.equal(lastState(5).state, "saving");
    assert.equal(queue({ host, attemptId: 8 }).answers.pendingCount, 0);
  });

  test("unreadable storage resumes nothing", () => {
    const host = new FakeHost();
    host.storage.setItem("exam.pending-answers.7", "{not json");
    const { answers, socket } = queue({ host });
    answers.resume();
    assert.deepEqual([answers.pendingCount, socket.frames.length], [0, 0]);
  });

  test("close stops every timer and send, and forgets the stored choices", async () => {
    const host = new FakeHost();
    const { answers, socket, session, lastState } = queue({ host });
    answers.choose(1, "a");
    answers.close();
    assert.deepEqual(host.pending, []);
    assert.equal(host.storage.getItem("exam.pending-answers.7"), null);
    answers.choose(2, "b");
    answers.flush();
    await host.advance(20_000);
    assert.deepEqual([socket.frames.length, session.calls.length], [1, 0]);
    assert.equal(host.storage.getItem("exam.pending-answers.7"), null);
    assert.equal(lastState(2), undefined);
  });

  test("drain resolves true once everything is saved", async () => {
    const { answers, socket, host } = queue();
    answers.choose(1, "a");
    let drained = null;
    answers.drain(5_000).then((value) => (drained = value));
    await host.advance(300);
    assert.equal(drained, null);
    answers.confirm(savedFrame(socket.frames.at(-1)));
    await host.advance(100);
    assert.equal(drained, true);
    assert.ok(host.time <= 400);
  });

  test("drain sends again at once and gives up after its timeout", async () => {
    const { answers, socket, host } = queue();
    answers.choose(1, "a");
    let drained = null;
    answers.drain(1_000).then((value) => (drained = value));
    assert.equal(socket.frames.length, 2, "flushed");
    await host.advance(900);
    assert.equal(drained, null);
    await host.advance(200);
    assert.equal(drained, false);
  });
});

describe("while a proctor has paused the attempt", () => {
  test("an answer refused as `attempt_paused` is held and sent again, not dropped nor taken for the end", async () => {
    const { answers, socket, host, lastState, ended } = queue();
    answers.choose(6, "a");
    const [frame] = socket.frames;
    assert.equal(
      answers.reject({ request_id: frame.request_id, code: "attempt_paused", message: "A proctor paused the attempt." }),
      true,
    );
    assert.equal(lastState(6).state, "held");
    assert.equal(answers.pendingCount, 1);
    assert.deepEqual(ended, []);
    await host.advance(1000); // the retry
    const again = socket.frames.at(-1);
    assert.equal(again.selected_option, "a");
    answers.confirm(savedFrame(again, "2030-01-01T00:00:11.000Z"));
    assert.equal(lastState(6).state, "saved");
  });
});
