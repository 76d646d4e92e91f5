// @ts-check
// The student page: sign in, pick an exam, answer against the server's clock, see the score.

import { AnswerQueue } from "./answers.js";
import { Session } from "./api.js";
import { Countdown, ServerClock, parseTime } from "./clock.js";
import { $, announce, describeSeconds, el, formatDuration, plural, showError, showView } from "./dom.js";
import { examCard } from "./exams.js";
import { renderProgress, renderQuestions, renderSaveState } from "./questions.js";
import { renderResult } from "./result.js";
import { bindSignIn, loadUser, showSignIn } from "./signin.js";
import { LiveSocket } from "./socket.js";

/** @typedef {import("./contract.js").Question} Question */
/** @typedef {import("./contract.js").StudentExam} StudentExam */
/** @typedef {import("./contract.js").StudentFrame} StudentFrame */
/**
 * The open attempt: everything its screen runs, made at once in openAttempt.
 * @typedef {object} OpenAttempt
 * @property {number} id
 * @property {Question[]} questions
 * @property {import("./questions.js").QuestionNodes} nodes
 * @property {Countdown} countdown
 * @property {LiveSocket} socket
 * @property {AnswerQueue} queue
 * @property {Set<number>} warned the warnings (seconds left) already given
 * @property {boolean} ended
 * @property {boolean} timeUp our countdown reached 0: locked until the server says what happened
 * @property {boolean} checking a checkEnd call is in flight
 * @property {number | null} lastTick when the last timer frame arrived (monotonic)
 * @property {number[]} timers intervals and timeouts to clear on leaving
 * @property {() => void} onVisible
 */

const WARNINGS = [300, 60]; // seconds left at which a warning is announced
const CLOCK_SAMPLES = 3; // REST round trips measured when an attempt opens
const RESAMPLE_MS = 60_000;

const session = new Session("exam.student.tokens");
const clock = new ServerClock();
session.now = () => clock.now();
session.onExpired = (/** @type {import("./api.js").ApiError} */ error) => {
  leaveAttempt();
  showSignIn(error.message);
};

/** @type {OpenAttempt | null} */
let current = null;
let visit = 0; // bumped on each navigation, so a slow load for a page the user left is dropped

// --- Routing: #attempt-<id> is an open attempt, anything else the list of exams ------------

async function route() {
  if (!session.signedIn) return showSignIn();
  try {
    await loadUser(session, () => {
      leaveAttempt();
      history.replaceState(null, "", location.pathname);
      showSignIn();
    });
  } catch (error) {
    if (error.status !== 401) showExams(error.message);
    return;
  }
  showPlace();
}

/** The view the address names: an attempt or the list of exams. */
function showPlace() {
  if (!session.signedIn) return showSignIn();
  const match = location.hash.match(/^#attempt-(\d+)$/);
  if (match) openAttempt(Number(match[1]));
  else showExams();
}

/** @param {string} hash */
function go(hash) {
  if (location.hash === hash) showPlace();
  else location.hash = hash; // the hashchange listener shows it
}

// --- The list of exams ---------------------------------------------------------------------

async function showExams(message = "") {
  leaveAttempt();
  const ticket = ++visit;
  showView("exams");
  const list = $("#exam-list");
  showError($("#exams-error"), message);
  list.replaceChildren(el("li", { class: "muted" }, "Loading exams…"));
  /** @type {StudentExam[]} */
  let exams;
  try {
    ({ exams } = await session.get("/api/exams/"));
  } catch (error) {
    if (ticket !== visit) return;
    list.replaceChildren();
    if (error.status !== 401) showError($("#exams-error"), `Could not load your exams: ${error.message}`);
    return;
  }
  if (ticket !== visit) return;
  const cards = exams.map((exam) => examCard(exam, cardActions));
  list.replaceChildren(...(cards.length ? cards : [el("li", { class: "muted" }, "No exams are published yet.")]));
}

/** @type {import("./exams.js").CardActions} */
const cardActions = { onOpen: (id) => go(`#attempt-${id}`), onStart: startExam };

/**
 * @param {StudentExam} exam
 * @param {HTMLButtonElement} button
 * @param {HTMLElement} errorNode
 */
async function startExam(exam, button, errorNode) {
  button.disabled = true;
  button.textContent = "Starting…";
  showError(errorNode, "");
  try {
    const reply = await session.post(`/api/exam/timer/start/${exam.id}/`, {}, { timed: true });
    clock.addSample(reply.data.server_time, reply.received, reply.sent);
    go(`#attempt-${reply.data.attempt_id}`);
  } catch (error) {
    showError(errorNode, error.message);
    button.disabled = false;
    button.textContent = "Start exam";
  }
}

// --- An open attempt -------------------------------------------------------------------------

/** @param {number} id */
async function openAttempt(id) {
  leaveAttempt();
  const ticket = ++visit;
  showView("attempt");
  $("#exam-title").textContent = "Loading…";
  $("#questions").replaceChildren();
  setNotice("");
  let reply;
  try {
    reply = await session.get(`/api/exam/timer/questions/${id}/`, { timed: true });
  } catch (error) {
    if (ticket === visit && error.status !== 401) showExams(`Could not open attempt ${id}: ${error.message}`);
    return;
  }
  if (ticket !== visit) return;
  /** @type {import("./contract.js").QuestionsBody} */
  const data = reply.data;
  clock.addSample(data.server_time, reply.received, reply.sent);
  if (data.status !== "ongoing") return showResult(id, data.questions);

  $("#exam-title").textContent = data.exam_title;
  Object.assign($("#submit-button"), { disabled: false, textContent: "Submit exam…" });
  // The callbacks below run once `attempt` exists (from the starts at the end on).
  const socket = new LiveSocket({
    path: `/ws/attempts/${id}/`,
    session,
    silenceMs: 5000,
    onMessage: (message, at) => onMessage(attempt, message, at),
    onStatus: (state, detail) => onSocketStatus(attempt, state, detail),
    messages: { forbidden: "This attempt belongs to another account.", notFound: "This attempt no longer exists." },
  });
  /** @type {OpenAttempt} */
  const attempt = (current = {
    id,
    questions: data.questions,
    nodes: renderQuestions(data.questions, (questionId, option) => attempt.queue.choose(questionId, option)),
    countdown: new Countdown(clock, (seconds) => renderCountdown(attempt, seconds)),
    socket,
    queue: new AnswerQueue({
      attemptId: id,
      session,
      socket,
      onState: (questionId, state, detail) => renderSaveState(attempt.nodes, questionId, state, detail),
      onEnded: () => checkEnd(attempt),
    }),
    warned: new Set(),
    ended: false,
    timeUp: false,
    checking: false,
    lastTick: null,
    timers: [],
    onVisible: () => {
      if (document.visibilityState === "visible") sampleClock(attempt);
    },
  });
  attempt.countdown.setDeadline(parseTime(data.deadline));
  attempt.countdown.start();
  attempt.socket.start();
  attempt.queue.resume();
  document.addEventListener("visibilitychange", attempt.onVisible);
  attempt.timers.push(setInterval(() => sampleClock(attempt), RESAMPLE_MS));
  for (let i = 0; i < CLOCK_SAMPLES && !attempt.ended; i++) {
    await sampleClock(attempt);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

/** Stop everything the open attempt runs (its socket, countdown and timers). */
function leaveAttempt() {
  if (!current) return;
  const attempt = current;
  current = null;
  attempt.ended = true;
  attempt.countdown.stop();
  attempt.socket.stop();
  attempt.timers.forEach(clearInterval);
  document.removeEventListener("visibilitychange", attempt.onVisible);
}

/**
 * One REST round trip to `/remaining`: a clock sample with a known round trip, and the truth.
 * @param {OpenAttempt} attempt
 */
async function sampleClock(attempt) {
  let reply;
  try {
    reply = await session.get(`/api/exam/timer/remaining/${attempt.id}/`, { timed: true });
  } catch {
    return; // offline: the socket's frames and the next sample will do
  }
  if (attempt.ended) return;
  clock.addSample(reply.data.server_time, reply.received, reply.sent);
  if (reply.data.status !== "ongoing") return finish(attempt);
  attempt.countdown.setDeadline(parseTime(reply.data.deadline));
  renderSkew();
}

/**
 * @param {OpenAttempt} attempt
 * @param {StudentFrame} message
 * @param {number} receivedAt monotonic
 */
function onMessage(attempt, message, receivedAt) {
  if (attempt.ended) return;
  switch (message.type) {
    case "timer":
      clock.addSample(message.server_time, receivedAt);
      noteTick(attempt, receivedAt);
      if (message.status !== "ongoing") return finish(attempt);
      attempt.countdown.setDeadline(parseTime(message.deadline));
      break;
    case "extended": {
      clock.addSample(message.server_time, receivedAt);
      attempt.countdown.setDeadline(parseTime(message.deadline));
      unlock(attempt);
      const text = `A proctor gave you ${describeSeconds(message.added_seconds)} more. ` +
        `Time left: ${formatDuration(message.remaining_seconds)}.`;
      setNotice(text, "info");
      announce(text);
      break;
    }
    case "timeout":
    case "submitted":
      finish(attempt);
      break;
    case "answer_saved":
      attempt.queue.confirm(message);
      break;
    case "error":
      if (!attempt.queue.reject(message)) setNotice(message.message, "error");
      break;
  }
}

/**
 * Loosen the silence watchdog to the server's tick interval (a setting), whatever it is.
 * @param {OpenAttempt} attempt
 * @param {number} at monotonic
 */
function noteTick(attempt, at) {
  if (attempt.lastTick) attempt.socket.silenceMs = Math.max(5000, 3 * (at - attempt.lastTick));
  attempt.lastTick = at;
}

/**
 * @param {OpenAttempt} attempt
 * @param {"connecting" | "live" | "waiting" | "failed"} state
 * @param {{retryInMs?: number, message?: string}} detail
 */
function onSocketStatus(attempt, state, detail) {
  const box = $("#connection");
  box.dataset.state = state;
  if (state === "live") {
    box.textContent = "Live";
    attempt.queue.flush(); // anything chosen while the socket was down goes again now
  } else if (state === "connecting") {
    box.textContent = "Connecting…";
  } else if (state === "waiting") {
    box.textContent = `Reconnecting in ${Math.ceil((detail.retryInMs || 0) / 1000)} s — answers are saved over HTTP`;
  } else if (state === "failed") {
    box.textContent = "Disconnected";
    setNotice(detail.message || "", "error");
  }
}

/**
 * @param {OpenAttempt} attempt
 * @param {string} [message]
 */
function lock(attempt, message) {
  for (const { fieldset } of attempt.nodes.values()) fieldset.disabled = true;
  $("#submit-button", HTMLButtonElement).disabled = true;
  if (message) setNotice(message, "info");
}

/** @param {OpenAttempt} attempt */
function unlock(attempt) {
  if (attempt.ended) return;
  for (const { fieldset } of attempt.nodes.values()) fieldset.disabled = false;
  $("#submit-button", HTMLButtonElement).disabled = false;
}

// --- The countdown ---------------------------------------------------------------------------

/**
 * @param {OpenAttempt} attempt
 * @param {number | null} seconds `remainingSeconds` on the server's clock
 */
function renderCountdown(attempt, seconds) {
  if (seconds === null) return;
  $("#countdown").textContent = formatDuration(seconds);
  $("#timer-box").dataset.level = seconds <= 60 ? "danger" : seconds <= 300 ? "warn" : "";
  for (const limit of WARNINGS) if (seconds > limit) attempt.warned.delete(limit); // re-armed by extra time
  const due = WARNINGS.filter((limit) => seconds <= limit && seconds > 0);
  if (due.length) {
    const limit = Math.min(...due);
    if (!attempt.warned.has(limit)) {
      due.forEach((l) => attempt.warned.add(l));
      const words = plural(limit / 60, "minute");
      const text = seconds >= limit - 2 ? `${words} left.` : `Less than ${words} left.`;
      setNotice(`${text} Your answers are saved as you go.`, "warn");
      announce(text);
    }
  }
  if (seconds === 0 && !attempt.ended && !attempt.timeUp) {
    attempt.timeUp = true;
    lock(attempt, "Time is up — collecting your result…");
    checkEnd(attempt);
  } else if (seconds > 0 && attempt.timeUp) {
    attempt.timeUp = false; // our clock was early, or extra time arrived
    unlock(attempt);
  }
}

function renderSkew() {
  const skew = Math.round(clock.skewMs / 1000);
  const hint = $("#clock-hint");
  hint.hidden = Math.abs(skew) < 5;
  hint.textContent = `Your device's clock is ${describeSeconds(Math.abs(skew))} ${skew > 0 ? "behind" : "ahead"}; ` +
    "the countdown follows the server's clock.";
}

/**
 * Ask the server whether the attempt has ended (our countdown reached 0, or an answer was refused).
 * @param {OpenAttempt} attempt
 */
async function checkEnd(attempt) {
  if (attempt.ended || attempt.checking) return;
  attempt.checking = true;
  try {
    const reply = await session.get(`/api/exam/timer/remaining/${attempt.id}/`, { timed: true });
    clock.addSample(reply.data.server_time, reply.received, reply.sent);
    if (reply.data.status !== "ongoing") return finish(attempt);
    attempt.countdown.setDeadline(parseTime(reply.data.deadline));
    if (reply.data.remaining_seconds === 0) attempt.timers.push(setTimeout(() => checkEnd(attempt), 1000));
  } catch (error) {
    if (error.status !== 401) attempt.timers.push(setTimeout(() => checkEnd(attempt), 2000));
  } finally {
    attempt.checking = false;
  }
}

// --- Submitting and the result ----------------------------------------------------------------

function openSubmitDialog() {
  const attempt = current;
  if (!attempt || attempt.ended) return;
  const answered = renderProgress(attempt.questions.length);
  const total = attempt.questions.length;
  $("#submit-summary").textContent = answered === total
    ? `You answered all ${total} questions.`
    : `You answered ${answered} of ${total} questions; unanswered ones score nothing.`;
  const pending = attempt.queue.pendingCount;
  showError($("#submit-pending"), pending ? `${plural(pending, "answer")} still being saved; we'll wait for ${pending === 1 ? "it" : "them"} first.` : "");
  const dialog = $("#submit-dialog", HTMLDialogElement);
  dialog.returnValue = ""; // Escape leaves it as it was: never a previous "confirm"
  dialog.showModal();
}

async function submitAttempt() {
  const attempt = current;
  if (!attempt || attempt.ended) return;
  const button = $("#submit-button", HTMLButtonElement);
  button.disabled = true;
  button.textContent = "Submitting…";
  await attempt.queue.drain(5000);
  let result;
  try {
    result = await session.post(`/api/exam/timer/submit/${attempt.id}/`);
  } catch (error) {
    setNotice(`Could not submit: ${error.message} Your answers are kept; try again.`, "error");
    button.disabled = false;
    button.textContent = "Submit exam…";
    return;
  }
  const questions = attempt.questions;
  leaveAttempt();
  attempt.queue.close();
  renderResult(result, questions);
}

/**
 * The attempt has ended on the server (submitted, timed out, force-submitted): show its result.
 * @param {OpenAttempt} attempt
 */
function finish(attempt) {
  if (attempt.ended) return;
  lock(attempt);
  leaveAttempt();
  attempt.queue.close();
  showResult(attempt.id, attempt.questions);
}

/**
 * @param {number} id
 * @param {Question[]} questions
 */
async function showResult(id, questions) {
  const ticket = ++visit;
  showView("result");
  $("#result-title").textContent = "Loading your result…";
  $("#result-details").replaceChildren();
  try {
    // Submitting an attempt that has already ended changes nothing and returns its result.
    const result = await session.post(`/api/exam/timer/submit/${id}/`);
    if (ticket === visit) renderResult(result, questions);
  } catch (error) {
    if (ticket !== visit) return;
    $("#result-title").textContent = "Your exam has ended";
    $("#result-details").replaceChildren(
      el("p", { class: "form-error", role: "alert" }, `Could not load the result: ${error.message}`),
      el("button", { type: "button", onclick: () => showResult(id, questions) }, "Try again"),
    );
  }
}

// --- Messages --------------------------------------------------------------------------------

/**
 * @param {string} text
 * @param {"info" | "warn" | "error"} [kind]
 */
function setNotice(text, kind = "info") {
  const notice = $("#notice");
  notice.textContent = text;
  notice.dataset.kind = kind;
  notice.hidden = !text;
}

// --- Wiring ------------------------------------------------------------------------------------

bindSignIn(session, route);
$("#submit-button").addEventListener("click", openSubmitDialog);
$("#submit-dialog", HTMLDialogElement).addEventListener("close", (event) => {
  if (/** @type {HTMLDialogElement} */ (event.target).returnValue === "confirm") submitAttempt();
});
$("#back-button").addEventListener("click", () => go(""));
window.addEventListener("hashchange", showPlace);
window.addEventListener("beforeunload", (event) => {
  if (current && current.queue.pendingCount) event.preventDefault(); // unsaved answers: ask first
});
route();
