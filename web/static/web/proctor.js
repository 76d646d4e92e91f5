// @ts-check
// The proctor dashboard: a live table of one exam's attempts (the proctor socket's snapshot
// and events), extra time and force submit per attempt, and a feed of what happened.

import { Session } from "./api.js";
import { AttemptsTable } from "./attempts-table.js";
import { ServerClock } from "./clock.js";
import { $, describeSeconds, el, formatDuration, showError, showView, timeOfDay } from "./dom.js";
import { canRelease, describePolicy } from "./review.js";
import { bindSignIn, loadUser, showSignIn } from "./signin.js";
import { LiveSocket } from "./socket.js";

/** @typedef {import("./contract.js").AttemptRow} AttemptRow */
/** @typedef {import("./contract.js").ProctorExam} ProctorExam */
/** @typedef {import("./contract.js").ProctorFrame} ProctorFrame */
/** @typedef {{resolve: (reply: any) => void, reject: (error: any) => void}} PendingRequest */
/**
 * The watched exam: everything its dashboard runs, made at once in watchExam.
 * @typedef {object} WatchedExam
 * @property {number} id
 * @property {AttemptsTable} table
 * @property {LiveSocket} socket
 * @property {Map<string, PendingRequest>} requests the proctor's actions waiting for the socket's reply, by request id
 * @property {number} ticker the interval that counts the table's times down
 * @property {boolean} snapshotSeen the socket has sent a snapshot (a later REST list must not overwrite it)
 */

const ACK_TIMEOUT_MS = 8000;
const FEED_LIMIT = 200;
// An action's dialog outlived its exam on the dashboard (the session ended meanwhile).
const GONE = "This attempt is no longer on the dashboard.";

const session = new Session("exam.proctor.tokens");
const clock = new ServerClock();
session.now = () => clock.now();
session.onExpired = (/** @type {import("./api.js").ApiError} */ error) => {
  closeExam();
  showSignIn(error.message);
};

/** @type {WatchedExam | null} */
let exam = null;
/** @type {Map<number, ProctorExam>} the exams of the picker, by id */
const examsById = new Map();
const order = { key: "student", direction: 1 }; // the proctor's sort, kept across exams
let nextRequest = 0;

// --- Routing ---------------------------------------------------------------------------------

async function route() {
  if (!session.signedIn) return showSignIn();
  let me;
  try {
    me = await loadUser(session, signedOut);
  } catch (error) {
    if (error.status !== 401) {
      showView("dashboard");
      showError($("#dashboard-error"), error.message);
    }
    return;
  }
  if (!me.is_staff) return showDenied(`You are signed in as ${me.username}, which is not a proctor account.`);
  showView("dashboard");
  if (!(await loadExams())) return;
  const match = location.hash.match(/^#exam-(\d+)$/);
  if (match) {
    $("#exam-select", HTMLSelectElement).value = match[1];
    watchExam(Number(match[1]));
  }
}

function signedOut() {
  closeExam();
  history.replaceState(null, "", location.pathname);
  showSignIn();
}

/** @param {string} message */
function showDenied(message) {
  closeExam();
  showView("denied");
  $("#denied-message").textContent = `${message} Only proctors (staff users) can watch exams; sign in with a proctor account.`;
}

/** @returns {Promise<boolean>} whether the exam picker could be filled */
async function loadExams() {
  /** @type {ProctorExam[]} */
  let exams;
  try {
    ({ exams } = await session.get("/api/proctor/exams/"));
  } catch (error) {
    if (error.status === 403) showDenied("This account is not a proctor account.");
    else if (error.status !== 401) showError($("#dashboard-error"), `Could not load the exams: ${error.message}`);
    return false;
  }
  examsById.clear();
  for (const e of exams) examsById.set(e.id, e);
  const select = $("#exam-select");
  select.replaceChildren(
    el("option", { value: "" }, exams.length ? "Choose an exam…" : "No exams yet"),
    ...exams.map((e) => el("option", { value: String(e.id) },
      `${e.title} — ${e.ongoing} in progress${e.published ? "" : " (not published)"}`)),
  );
  return true;
}

// --- Watching one exam ---------------------------------------------------------------------------

/** @param {number} id 0 for none */
function watchExam(id) {
  closeExam();
  showError($("#dashboard-error"), "");
  if (!id) {
    $("#exam-panel").hidden = true;
    history.replaceState(null, "", location.pathname);
    return;
  }
  history.replaceState(null, "", `#exam-${id}`);
  $("#exam-panel").hidden = false;
  $("#attempt-rows").replaceChildren();
  $("#feed").replaceChildren();
  renderReview(id);
  const table = new AttemptsTable(clock, { onExtend: openExtend, onForce: openForce, order });
  /** @type {WatchedExam} */
  const watched = {
    id,
    table,
    socket: new LiveSocket({
      path: `/ws/proctor/exams/${id}/`,
      session,
      onMessage: (message, at) => onMessage(watched, message, at),
      onStatus: onSocketStatus,
      messages: { forbidden: "Only proctors (staff users) can watch an exam.", notFound: "This exam no longer exists." },
    }),
    requests: new Map(),
    ticker: setInterval(() => table.tick(), 1000),
    snapshotSeen: false,
  };
  exam = watched;
  watched.socket.start();
  table.render();
  measureClock(watched);
}

function closeExam() {
  if (!exam) return;
  exam.socket.stop();
  clearInterval(exam.ticker);
  for (const request of exam.requests.values()) request.reject(new Error("Stopped watching this exam."));
  exam = null;
}

/**
 * The same rows over REST: a round trip the clock can learn from, and a table before the socket is up.
 * @param {WatchedExam} watched
 */
async function measureClock(watched) {
  try {
    const reply = await session.get(`/api/proctor/exams/${watched.id}/attempts/`, { timed: true });
    const first = reply.data.attempts[0];
    if (first) clock.addSample(first.server_time, reply.received, reply.sent);
    if (exam === watched && !watched.snapshotSeen) watched.table.setRows(reply.data.attempts);
  } catch (error) {
    if (exam === watched && error.status === 404) showError($("#dashboard-error"), error.message);
  }
}

/**
 * @param {WatchedExam} watched
 * @param {ProctorFrame} message
 * @param {number} receivedAt monotonic
 */
function onMessage(watched, message, receivedAt) {
  if (exam !== watched) return;
  if (message.type === "snapshot") {
    if (watched.snapshotSeen) addFeed("Reconnected: the table is up to date again.", "info");
    watched.snapshotSeen = true;
    if (message.attempts[0]) clock.addSample(message.attempts[0].server_time, receivedAt);
    watched.table.setRows(message.attempts);
    relabelExam(watched);
  } else if (message.type === "ack" || message.type === "error") {
    const request = message.request_id === undefined ? undefined : watched.requests.get(message.request_id);
    if (request) request[message.type === "ack" ? "resolve" : "reject"](message);
    else if (message.type === "error") addFeed(`Server: ${message.message}`, "error");
  } else if (message.attempt) {
    clock.addSample(message.attempt.server_time, receivedAt);
    const before = watched.table.upsert(message.attempt);
    const text = describeEvent(message.type, message.attempt, before);
    if (text) addFeed(text, message.type);
    watched.table.render();
    relabelExam(watched);
  }
}

/**
 * The feed's line for an event about one attempt (null for none).
 * @param {string} type
 * @param {AttemptRow} row the row after the event
 * @param {AttemptRow | undefined} before the row before it
 * @returns {string | null}
 */
function describeEvent(type, row, before) {
  const who = row.student;
  const score = `${row.score ?? 0} / ${row.max_score ?? 0}`;
  switch (type) {
    case "attempt_started": return `${who} started the exam.`;
    case "answer_saved": return `${who} saved an answer (${row.answered} of ${row.total_questions}).`;
    case "attempt_submitted": return `${who} submitted, score ${score}.`;
    case "attempt_timeout": return `${who} ran out of time, score ${score}.`;
    case "attempt_extended": {
      const added = before ? row.extra_seconds - before.extra_seconds : 0;
      return added > 0 ? `${who} got ${describeSeconds(added)} more.` : `${who}'s time was extended.`;
    }
    case "student_connected": return `${who} connected.`;
    case "student_disconnected": return `${who} disconnected.`;
    default: return null;
  }
}

/**
 * @param {"connecting" | "live" | "waiting" | "failed"} state
 * @param {{retryInMs?: number, message?: string}} detail
 */
function onSocketStatus(state, detail) {
  const box = $("#connection");
  box.dataset.state = state;
  /** @type {Record<string, string>} */
  const texts = {
    connecting: "Connecting…",
    live: "Live",
    waiting: `Reconnecting in ${Math.ceil((detail.retryInMs || 0) / 1000)} s…`,
    failed: "Disconnected",
  };
  box.textContent = texts[state] || "";
  if (state === "failed") showError($("#dashboard-error"), detail.message);
}

// --- The feed -----------------------------------------------------------------------------------

/**
 * @param {string} text
 * @param {string} kind the event's type, `action` (the proctor's own) or `info`, `error`
 */
function addFeed(text, kind) {
  const feed = $("#feed");
  feed.prepend(el("li", { dataset: { kind } }, el("time", {}, timeOfDay(clock.now())), " ", text));
  while (feed.children.length > FEED_LIMIT) feed.lastElementChild?.remove();
}

/**
 * Keep the exam picker's "N in progress" current.
 * @param {WatchedExam} watched
 */
function relabelExam(watched) {
  const option = document.querySelector(`#exam-select option[value="${watched.id}"]`);
  const { ongoing } = watched.table.counts();
  if (option) option.textContent = option.textContent.replace(/ — \d+ in progress/, ` — ${ongoing} in progress`);
}

// --- Actions: extend and force submit ------------------------------------------------------------

/**
 * Send a proctor action over the socket (REST when it is down); resolves with the server's reply.
 * @param {WatchedExam} watched
 * @param {object} message
 * @param {string} restPath
 * @param {object} [restBody]
 * @returns {Promise<any>}
 */
function act(watched, message, restPath, restBody) {
  if (!watched.socket.isLive) return session.post(restPath, restBody);
  const requestId = `p${++nextRequest}`;
  return new Promise((resolve, reject) => {
    const done = (/** @type {(value: any) => void} */ settle) => (/** @type {any} */ value) => {
      clearTimeout(timer);
      watched.requests.delete(requestId);
      settle(value);
    };
    // Not retried automatically: an extension that did arrive must not be granted twice.
    const timer = setTimeout(() => done(reject)(new Error("No answer from the server; check the table before trying again.")), ACK_TIMEOUT_MS);
    watched.requests.set(requestId, { resolve: done(resolve), reject: done(reject) });
    watched.socket.send({ ...message, request_id: requestId });
  });
}

/** @param {number} id */
function openExtend(id) {
  const row = exam && exam.table.rows.get(id);
  if (!exam || !row) return;
  const dialog = $("#extend-dialog", HTMLDialogElement);
  dialog.dataset.attemptId = String(id);
  $("#extend-student").textContent = row.student;
  const left = exam.table.secondsLeft(row);
  $("#extend-left").textContent = left === null ? "ended" : formatDuration(left);
  showError($("#extend-error"), "");
  dialog.showModal();
  $("#extend-minutes", HTMLInputElement).select();
}

/** @param {SubmitEvent} event */
async function submitExtend(event) {
  event.preventDefault();
  const dialog = $("#extend-dialog", HTMLDialogElement);
  const id = Number(dialog.dataset.attemptId);
  const watched = exam;
  const row = watched && watched.table.rows.get(id);
  const minutes = Number($("#extend-minutes", HTMLInputElement).value);
  if (!Number.isInteger(minutes) || minutes < 1 || minutes > 1440) {
    return showError($("#extend-error"), "Enter a whole number of minutes from 1 to 1440.");
  }
  if (!watched || !row) return showError($("#extend-error"), GONE);
  const button = /** @type {HTMLButtonElement} */ (event.submitter || dialog.querySelector("button[type=submit]"));
  button.disabled = true;
  try {
    const seconds = minutes * 60;
    await act(watched, { type: "extend", attempt_id: id, seconds }, `/api/exam/timer/extend/${id}/`, { seconds });
    dialog.close();
    addFeed(`You gave ${row.student} ${describeSeconds(seconds)} more.`, "action");
  } catch (error) {
    showError($("#extend-error"), error.message);
  } finally {
    button.disabled = false;
  }
}

/** @param {number} id */
function openForce(id) {
  const row = exam && exam.table.rows.get(id);
  if (!row) return;
  const dialog = $("#force-dialog", HTMLDialogElement);
  dialog.dataset.attemptId = String(id);
  $("#force-student").textContent = row.student;
  showError($("#force-error"), "");
  dialog.showModal();
}

/** @param {SubmitEvent} event */
async function submitForce(event) {
  event.preventDefault();
  const dialog = $("#force-dialog", HTMLDialogElement);
  const id = Number(dialog.dataset.attemptId);
  const watched = exam;
  const row = watched && watched.table.rows.get(id);
  if (!watched || !row) return showError($("#force-error"), GONE);
  const button = /** @type {HTMLButtonElement} */ (event.submitter || dialog.querySelector("button[type=submit]"));
  button.disabled = true;
  try {
    const result = await act(watched, { type: "force_submit", attempt_id: id }, `/api/exam/timer/force-submit/${id}/`);
    dialog.close();
    addFeed(`You force-submitted ${row.student}'s attempt (score ${result.score} / ${result.max_score}).`, "action");
  } catch (error) {
    showError($("#force-error"), error.message);
  } finally {
    button.disabled = false;
  }
}

// --- The review: what the exam's students see after ending, and its release ------------------------

/** @param {number} id the watched exam */
function renderReview(id) {
  const watchedExam = examsById.get(id);
  $("#review-policy").textContent = watchedExam ? describePolicy(watchedExam.review_policy, watchedExam.closes_at) : "";
  $("#release-button").hidden = !watchedExam || !canRelease(watchedExam.review_policy);
}

function openRelease() {
  const watchedExam = exam && examsById.get(exam.id);
  if (!watchedExam) return;
  $("#release-exam").textContent = watchedExam.title;
  showError($("#release-error"), "");
  $("#release-dialog", HTMLDialogElement).showModal();
}

/** @param {SubmitEvent} event */
async function submitRelease(event) {
  event.preventDefault();
  const dialog = $("#release-dialog", HTMLDialogElement);
  const watched = exam;
  if (!watched) return showError($("#release-error"), "Choose an exam first.");
  const button = /** @type {HTMLButtonElement} */ (event.submitter || dialog.querySelector("button[type=submit]"));
  button.disabled = true;
  try {
    /** @type {ProctorExam} */
    const updated = await session.post(`/api/proctor/exams/${watched.id}/release-review/`);
    examsById.set(updated.id, updated);
    dialog.close();
    if (exam === watched) renderReview(watched.id);
    addFeed("You released the review to the students.", "action");
  } catch (error) {
    showError($("#release-error"), error.message);
  } finally {
    button.disabled = false;
  }
}

// --- Wiring ------------------------------------------------------------------------------------------

bindSignIn(session, route);
$("#denied-sign-out").addEventListener("click", () => {
  session.signOut();
  signedOut();
});
$("#exam-select", HTMLSelectElement).addEventListener("change", (event) =>
  watchExam(Number(/** @type {HTMLSelectElement} */ (event.target).value)),
);
$("#filter-text").addEventListener("input", () => exam && exam.table.render());
$("#filter-status").addEventListener("change", () => exam && exam.table.render());
for (const th of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll("th[data-sort]"))) {
  const button = /** @type {HTMLButtonElement} */ (th.querySelector("button"));
  button.addEventListener("click", () => exam && exam.table.sortBy(th.dataset.sort || ""));
}
$("#sort-select", HTMLSelectElement).addEventListener("change", (event) =>
  exam && exam.table.sortBy(/** @type {HTMLSelectElement} */ (event.target).value, { toggle: false }),
);
$("#extend-form").addEventListener("submit", submitExtend);
$("#force-form").addEventListener("submit", submitForce);
$("#release-button").addEventListener("click", openRelease);
$("#release-form").addEventListener("submit", submitRelease);
for (const button of document.querySelectorAll("dialog [data-close]")) {
  button.addEventListener("click", () => button.closest("dialog")?.close());
}
route();
