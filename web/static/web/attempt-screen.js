// @ts-check
// The open attempt's screen: its questions, navigator and banners, the countdown on the server's
// clock, the socket's frames, the answer queue, and the locks (time up, overdue, a module's).
// Its state is one OpenAttempt, made at once in openAttempt; feature modules reach it only
// through student-hooks.js. Submitting and the result are attempt-end.js.

import { finish, showResult } from "./attempt-end.js";
import { choose, jumpTo, markQuestion, onSaveState } from "./attempt-questions.js";
import { AnswerQueue } from "./answers.js";
import { clearAttemptScreens, hideBanner, showBanner } from "./banners.js";
import { Countdown, parseTime } from "./clock.js";
import { $, announce, describeSeconds, formatDuration, plural, showView } from "./dom.js";
import { FlagStore } from "./flags.js";
import { LateAnswers } from "./late.js";
import { QuestionNavigator } from "./navigator.js";
import { renderQuestions } from "./questions.js";
import { skewText } from "./skew.js";
import { LiveSocket } from "./socket.js";
import { ConnectionStatus } from "./status.js";
import { dispatchFrame, runAttemptOpen } from "./student-hooks.js";
import { clock, newVisit, session, stillVisiting } from "./student-session.js";

/** @typedef {import("./contract.js").Question} Question */
/** @typedef {import("./contract.js").StudentFrame} StudentFrame */
/**
 * The open attempt: everything its screen runs, made at once in openAttempt.
 * @typedef {object} OpenAttempt
 * @property {number} id
 * @property {number} examId
 * @property {Question[]} questions
 * @property {import("./questions.js").QuestionNodes} nodes
 * @property {QuestionNavigator} navigator
 * @property {FlagStore} flags
 * @property {LateAnswers} late
 * @property {ConnectionStatus} status
 * @property {Set<number>} unreachable questions whose last save could not reach the server
 * @property {Countdown} countdown
 * @property {number} deadline server epoch ms
 * @property {LiveSocket} socket
 * @property {AnswerQueue} queue
 * @property {Set<number>} warned the warnings (seconds left) already given
 * @property {boolean} ended
 * @property {boolean} timeUp our countdown reached 0: locked until the server says what happened
 * @property {boolean} moduleLock a feature module locked the answers (e.g. paused)
 * @property {boolean} overdue in the hand-in window: time is up, answers locked, submitting still taken
 * @property {boolean} paused a proctor paused it: the clock stands still, answers and submit wait
 * @property {boolean} checking a checkEnd call is in flight
 * @property {number | null} lastTick when the last timer frame arrived (monotonic)
 * @property {number[]} timers intervals and timeouts to clear on leaving
 * @property {() => void} onVisible
 * @property {() => void} onNetwork
 * @property {import("./student-hooks.js").AttemptContext} context what the feature modules' hooks are given
 * @property {() => void} closeModules the feature modules' cleanups
 */


const WARNINGS = [300, 60]; // seconds left at which a warning is announced
const CLOCK_SAMPLES = 3; // REST round trips measured when an attempt opens
const RESAMPLE_MS = 60_000;

/** @type {OpenAttempt | null} */
let current = null;

/**
 * The attempt whose screen is open, if any.
 * @returns {OpenAttempt | null}
 */
export function currentAttempt() {
  return current;
}

// --- An open attempt -------------------------------------------------------------------------

/**
 * Open the attempt's screen (or, once it has ended, its result); resolves to a message for the
 * list of exams when it can't be loaded.
 * @param {number} id
 * @returns {Promise<string | null>}
 */
export async function openAttempt(id) {
  leaveAttempt();
  const ticket = newVisit();
  showView("attempt");
  $("#exam-title").textContent = "Loading…";
  $("#questions").replaceChildren();
  $("#navigator-list").replaceChildren();
  setNotice("");
  let reply;
  try {
    reply = await session.get(`/api/exam/timer/questions/${id}/`, { timed: true });
  } catch (error) {
    return stillVisiting(ticket) && error.status !== 401 ? `Could not open attempt ${id}: ${error.message}` : null;
  }
  if (!stillVisiting(ticket)) return null;
  /** @type {import("./contract.js").QuestionsBody} */
  const data = reply.data;
  clock.addSample(data.server_time, reply.received, reply.sent);
  if (hasEnded(data.status)) {
    showResult(id, data.questions, parseTime(data.deadline));
    return null;
  }

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
  const flags = new FlagStore(id);
  const questionNav = new QuestionNavigator(data.questions, (questionId) => jumpTo(attempt, questionId));
  /** @type {OpenAttempt} */
  const attempt = (current = {
    id,
    examId: data.exam_id,
    questions: data.questions,
    nodes: renderQuestions(data.questions, {
      onChoose: (questionId, option) => choose(attempt, questionId, option),
      onFlag: (questionId) => flags.toggle(questionId),
      isFlagged: (questionId) => flags.has(questionId),
      onChange: (questionId) => markQuestion(attempt, questionId),
    }),
    navigator: questionNav,
    flags,
    late: new LateAnswers(id),
    status: new ConnectionStatus((banner) => (banner ? showBanner("connection", banner) : hideBanner("connection"))),
    unreachable: new Set(),
    countdown: new Countdown(clock, (seconds) => renderCountdown(attempt, seconds)),
    deadline: parseTime(data.deadline),
    socket,
    queue: new AnswerQueue({
      attemptId: id,
      session,
      socket,
      onState: (questionId, state, detail) => onSaveState(attempt, questionId, state, detail),
      onEnded: () => checkEnd(attempt),
    }),
    warned: new Set(),
    ended: false,
    timeUp: false,
    moduleLock: false,
    overdue: data.status === "overdue",
    paused: false,
    checking: false,
    lastTick: null,
    timers: [],
    onVisible: () => {
      if (document.visibilityState === "visible") sampleClock(attempt);
    },
    onNetwork: () => attempt.status.network(navigator.onLine),
    context: {
      attemptId: id,
      examId: data.exam_id,
      socket,
      session,
      clock,
      setLocked: (locked) => {
        attempt.moduleLock = locked;
        applyLock(attempt);
      },
      refresh: () => sampleClock(attempt),
    },
    closeModules: () => {},
  });
  for (const question of data.questions) markQuestion(attempt, question.id);
  applyLock(attempt);
  attempt.countdown.setDeadline(attempt.deadline);
  attempt.countdown.start();
  if (data.paused_at) setPaused(attempt, data.remaining_seconds);
  attempt.socket.start();
  attempt.queue.resume();
  attempt.status.network(navigator.onLine);
  document.addEventListener("visibilitychange", attempt.onVisible);
  window.addEventListener("online", attempt.onNetwork);
  window.addEventListener("offline", attempt.onNetwork);
  attempt.closeModules = runAttemptOpen(attempt.context);
  attempt.timers.push(setInterval(() => sampleClock(attempt), RESAMPLE_MS));
  for (let i = 0; i < CLOCK_SAMPLES && !attempt.ended; i++) {
    await sampleClock(attempt);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  return null;
}

/**
 * Stop everything the open attempt runs (its socket, countdown, timers and modules).
 * @returns {void}
 */
export function leaveAttempt() {
  if (!current) return;
  const attempt = current;
  current = null;
  attempt.ended = true;
  attempt.countdown.stop();
  attempt.socket.stop();
  attempt.status.stop();
  attempt.timers.forEach(clearInterval);
  document.removeEventListener("visibilitychange", attempt.onVisible);
  window.removeEventListener("online", attempt.onNetwork);
  window.removeEventListener("offline", attempt.onNetwork);
  attempt.closeModules();
  clearAttemptScreens();
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
  applyTimer(attempt, reply.data);
}

/**
 * What a timer body (REST or a frame) says of the attempt: ended (show the result), overdue,
 * paused (the clock stands still at `remaining_seconds`), or running to `deadline`.
 * @param {OpenAttempt} attempt
 * @param {import("./contract.js").Timer} body
 * @returns {boolean} whether the attempt is still open
 */
function applyTimer(attempt, body) {
  if (hasEnded(body.status)) {
    finish(attempt);
    return false;
  }
  setOverdue(attempt, body.status === "overdue");
  setPaused(attempt, body.paused_at ? body.remaining_seconds : null);
  setDeadline(attempt, body.deadline);
  return true;
}

/**
 * A paused attempt's clock stands still (`frozen` seconds left); null: it runs.
 * @param {OpenAttempt} attempt
 * @param {number | null} frozen
 */
function setPaused(attempt, frozen) {
  if (frozen !== null) {
    attempt.paused = true;
    attempt.countdown.stop();
    $("#countdown").textContent = formatDuration(frozen);
    $("#timer-box").dataset.level = "paused";
    attempt.timeUp = false;
  } else if (attempt.paused) {
    attempt.paused = false;
    attempt.countdown.start();
  }
  applyLock(attempt);
}

/**
 * @param {OpenAttempt} attempt
 * @param {string} deadline
 */
function setDeadline(attempt, deadline) {
  attempt.deadline = parseTime(deadline);
  attempt.countdown.setDeadline(attempt.deadline);
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
    case "paused":
    case "resumed":
      // Every frame corrects the clock (clock.js allows for a drifting monotonic clock).
      clock.addSample(message.server_time, receivedAt);
      if (message.type === "timer") noteTick(attempt, receivedAt);
      if (!applyTimer(attempt, message)) return;
      if (message.type === "resumed") attempt.queue.flush(); // answers held during the pause go now
      break;
    case "extended": {
      clock.addSample(message.server_time, receivedAt);
      setDeadline(attempt, message.deadline);
      attempt.timeUp = false;
      applyLock(attempt);
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
  if (!attempt.ended) dispatchFrame(attempt.context, message, receivedAt);
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
    box.textContent = `Reconnecting in ${Math.ceil((detail.retryInMs || 0) / 1000)} s`;
  } else if (state === "failed") {
    box.textContent = "Disconnected";
  }
  attempt.status.socket(state, detail);
}

/**
 * Answers and the submit button are out of reach while the page (time is up, ended) or a module locks them.
 * @param {OpenAttempt} attempt
 */
function applyLock(attempt) {
  const locked = attempt.ended || attempt.timeUp || attempt.moduleLock || attempt.overdue || attempt.paused;
  for (const { fieldset } of attempt.nodes.values()) fieldset.disabled = locked;
  // In the hand-in window the answers are locked but the attempt can (and should) still be submitted.
  $("#submit-button", HTMLButtonElement).disabled = attempt.overdue
    ? attempt.ended || attempt.moduleLock || attempt.paused
    : locked;
}

/**
 * The attempt entered (or, given extra time, left) its hand-in window.
 * @param {OpenAttempt} attempt
 * @param {boolean} overdue
 */
function setOverdue(attempt, overdue) {
  if (attempt.overdue === overdue) return;
  attempt.overdue = overdue;
  applyLock(attempt);
  if (overdue) setNotice("Time is up: your answers are locked. Submit your exam now to hand it in.", "warn");
}

/**
 * Whether an attempt in `status` is over (its result can be shown); `overdue` is not yet.
 * @param {string} status
 * @returns {boolean}
 */
export function hasEnded(status) {
  return status === "completed" || status === "timeout";
}

// --- The countdown ---------------------------------------------------------------------------

/**
 * @param {OpenAttempt} attempt
 * @param {number | null} seconds `remainingSeconds` on the server's clock
 */
function renderCountdown(attempt, seconds) {
  renderSkew(); // the system clock may have been changed meanwhile
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
    applyLock(attempt);
    setNotice("Time is up — collecting your result…", "info");
    checkEnd(attempt);
  } else if (seconds > 0 && attempt.timeUp) {
    attempt.timeUp = false; // our clock was early, or extra time arrived
    applyLock(attempt);
  }
}

/** The device-clock warning, from the clock's current offset (called on every redraw and sample). */
function renderSkew() {
  const text = skewText(clock.skewMs);
  const hint = $("#clock-hint");
  hint.hidden = text === null;
  if (text !== null && hint.textContent !== text) hint.textContent = text;
}

/**
 * Ask the server whether the attempt has ended (our countdown reached 0, or an answer was refused).
 * @param {OpenAttempt} attempt
 */
export async function checkEnd(attempt) {
  if (attempt.ended || attempt.checking) return;
  attempt.checking = true;
  try {
    const reply = await session.get(`/api/exam/timer/remaining/${attempt.id}/`, { timed: true });
    clock.addSample(reply.data.server_time, reply.received, reply.sent);
    if (!applyTimer(attempt, reply.data)) return;
    if (reply.data.remaining_seconds === 0 && !attempt.overdue && !attempt.paused) attempt.timers.push(setTimeout(() => checkEnd(attempt), 1000));
  } catch (error) {
    if (error.status !== 401) attempt.timers.push(setTimeout(() => checkEnd(attempt), 2000));
  } finally {
    attempt.checking = false;
  }
}

// --- Messages --------------------------------------------------------------------------------

/**
 * The attempt's one-off notice (time warnings, extra time, a refused message).
 * @param {string} text
 * @param {"info" | "warn" | "error"} [kind]
 * @returns {void}
 */
export function setNotice(text, kind = "info") {
  const notice = $("#notice");
  notice.textContent = text;
  notice.dataset.kind = kind;
  notice.hidden = !text;
}
