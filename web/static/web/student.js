// @ts-check
// The student page: sign in, pick an exam, read its instructions, start, answer against the
// server's clock, see the score.
//
// Views (one `data-view` section each, named by the address):
//   (none)        the list of exams
//   #exam-<id>    the instructions page; the attempt starts only from its Start button
//   #attempt-<id> the open attempt: banners, navigator, questions (an overlay may cover them)
//   #result-<id>  an ended attempt's result
// Feature modules plug in through student-hooks.js (pre-start screens, attempt open/close,
// socket frames, instruction lines) and banners.js (banners and overlays); they are imported
// below, in the "Feature modules" block, and nowhere else.

import { AnswerQueue } from "./answers.js";
import { Session } from "./api.js";
import { clearAttemptScreens, hideBanner, showBanner } from "./banners.js";
import { Countdown, ServerClock, parseTime } from "./clock.js";
import { $, announce, describeSeconds, el, formatDuration, plural, showError, showView } from "./dom.js";
import { examCard } from "./exams.js";
import { FlagStore } from "./flags.js";
import { renderInstructions } from "./instructions.js";
import { LateAnswers } from "./late.js";
import { QuestionNavigator } from "./navigator.js";
import { isAnswered, renderProgress, renderQuestions, renderSaveState } from "./questions.js";
import { renderResult } from "./result.js";
import { bindSignIn, loadUser, showSignIn } from "./signin.js";
import { skewText } from "./skew.js";
import { LiveSocket } from "./socket.js";
import { ConnectionStatus } from "./status.js";
import { dispatchFrame, runAttemptOpen, runPreStart } from "./student-hooks.js";

// --- Feature modules (each registers its hooks when imported) -------------------------------
// (none yet: add `import "./<feature>.js";` lines here)

/** @typedef {import("./contract.js").Question} Question */
/** @typedef {import("./contract.js").StudentExam} StudentExam */
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
 * @property {boolean} checking a checkEnd call is in flight
 * @property {number | null} lastTick when the last timer frame arrived (monotonic)
 * @property {number[]} timers intervals and timeouts to clear on leaving
 * @property {() => void} onVisible
 * @property {() => void} onNetwork
 * @property {() => void} closeModules the feature modules' cleanups
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
/** @type {() => void} undoes the pre-start modules' work when the instructions page is left */
let leavePreStart = () => {};
/** @type {StudentExam | null} the exam whose instructions are shown */
let instructionsExam = null;
let visit = 0; // bumped on each navigation, so a slow load for a page the user left is dropped

// --- Routing ----------------------------------------------------------------------------------

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

/** The view the address names. */
function showPlace() {
  if (!session.signedIn) return showSignIn();
  const match = location.hash.match(/^#(exam|attempt|result)-(\d+)$/);
  if (!match) return showExams();
  if (match[1] === "exam") showInstructions(Number(match[2]));
  else openAttempt(Number(match[2])); // an ended attempt shows its result
}

/** @param {string} hash */
function go(hash) {
  if (location.hash === hash) showPlace();
  else location.hash = hash; // the hashchange listener shows it
}

/** Leave whatever view is open (its socket, timers, modules). */
function leaveViews() {
  leaveAttempt();
  instructionsExam = null;
  leavePreStart();
  leavePreStart = () => {};
}

// --- The list of exams ---------------------------------------------------------------------

async function showExams(message = "") {
  leaveViews();
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
const cardActions = { onOpen: (id) => go(`#attempt-${id}`), onStart: (exam) => go(`#exam-${exam.id}`) };

// --- The instructions page: nothing starts until the student presses Start ----------------------

/** @param {number} examId */
async function showInstructions(examId) {
  leaveViews();
  const ticket = ++visit;
  showView("instructions");
  $("#instructions-title").textContent = "Loading…";
  for (const id of ["#instructions-facts", "#instructions-extra", "#instructions-rules", "#prestart-slot"]) $(id).replaceChildren();
  showError($("#instructions-error"), "");
  const button = $("#start-button", HTMLButtonElement);
  Object.assign(button, { hidden: false, disabled: true, textContent: "Start the exam" });
  /** @type {StudentExam | undefined} */
  let exam;
  try {
    /** @type {{exams: StudentExam[]}} */
    const { exams } = await session.get("/api/exams/");
    exam = exams.find((e) => e.id === examId);
  } catch (error) {
    if (ticket === visit && error.status !== 401) showExams(`Could not load the exam: ${error.message}`);
    return;
  }
  if (ticket !== visit) return;
  if (!exam) return showExams(`Exam ${examId} is not open to you.`);
  const ongoing = exam.attempts.find((a) => !hasEnded(a.status));
  if (ongoing) return go(`#attempt-${ongoing.attempt_id}`); // its clock is running already
  renderInstructions(exam);
  if (exam.attempts.length >= exam.max_attempts) {
    button.hidden = true;
    showError($("#instructions-error"), "You have no attempts left for this exam.");
    return;
  }
  button.disabled = false;
  const chosen = (instructionsExam = exam);
  leavePreStart = runPreStart({
    exam: chosen,
    slot: $("#prestart-slot"),
    startButton: button,
    start: (body) => startExam(chosen, body),
    open: (attemptId) => go(`#attempt-${attemptId}`),
    session,
    clock,
  });
}

/**
 * POST start, then open the attempt (also what a pre-start module calls to start).
 * @param {StudentExam} exam
 * @param {object} [body]
 */
async function startExam(exam, body = {}) {
  const button = $("#start-button", HTMLButtonElement);
  button.disabled = true;
  button.textContent = "Starting…";
  showError($("#instructions-error"), "");
  try {
    const reply = await session.post(`/api/exam/timer/start/${exam.id}/`, body, { timed: true });
    clock.addSample(reply.data.server_time, reply.received, reply.sent);
    go(`#attempt-${reply.data.attempt_id}`);
  } catch (error) {
    showError($("#instructions-error"), error.message);
    button.disabled = false;
    button.textContent = "Start the exam";
  }
}

// --- An open attempt -------------------------------------------------------------------------

/** @param {number} id */
async function openAttempt(id) {
  leaveViews();
  const ticket = ++visit;
  showView("attempt");
  $("#exam-title").textContent = "Loading…";
  $("#questions").replaceChildren();
  $("#navigator-list").replaceChildren();
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
  if (hasEnded(data.status)) return showResult(id, data.questions, parseTime(data.deadline));

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
    checking: false,
    lastTick: null,
    timers: [],
    onVisible: () => {
      if (document.visibilityState === "visible") sampleClock(attempt);
    },
    onNetwork: () => attempt.status.network(navigator.onLine),
    closeModules: () => {},
  });
  for (const question of data.questions) markQuestion(attempt, question.id);
  applyLock(attempt);
  attempt.countdown.setDeadline(attempt.deadline);
  attempt.countdown.start();
  attempt.socket.start();
  attempt.queue.resume();
  attempt.status.network(navigator.onLine);
  document.addEventListener("visibilitychange", attempt.onVisible);
  window.addEventListener("online", attempt.onNetwork);
  window.addEventListener("offline", attempt.onNetwork);
  attempt.closeModules = runAttemptOpen({
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
  });
  attempt.timers.push(setInterval(() => sampleClock(attempt), RESAMPLE_MS));
  for (let i = 0; i < CLOCK_SAMPLES && !attempt.ended; i++) {
    await sampleClock(attempt);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

/** Stop everything the open attempt runs (its socket, countdown, timers and modules). */
function leaveAttempt() {
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
 * The student chose (or cleared, `null`) an answer.
 * @param {OpenAttempt} attempt
 * @param {number} questionId
 * @param {string | null} option
 */
function choose(attempt, questionId, option) {
  attempt.late.chosen(questionId, option, clock.now());
  attempt.queue.choose(questionId, option);
}

/**
 * @param {OpenAttempt} attempt
 * @param {number} questionId
 * @param {import("./questions.js").SaveState} state
 * @param {import("./answers.js").SaveDetail} detail
 */
function onSaveState(attempt, questionId, state, detail) {
  renderSaveState(attempt.nodes, questionId, state, detail);
  if (state === "offline") {
    attempt.unreachable.add(questionId);
    attempt.late.offline(questionId, clock.now());
  } else if (state === "saved" || state === "error") {
    attempt.unreachable.delete(questionId);
  }
  if (state === "saved" && !detail.external) attempt.late.saved(questionId);
  if (state === "error" && detail.code === "time_up") {
    attempt.late.refused(questionId, attempt.navigator.numbers.get(questionId) || 0, clock.now(), detail.message || "");
  }
  attempt.status.answers(attempt.queue.pendingCount, attempt.unreachable.size > 0);
  markQuestion(attempt, questionId);
}

/**
 * Redraw one question's marks in the navigator.
 * @param {OpenAttempt} attempt
 * @param {number} questionId
 */
function markQuestion(attempt, questionId) {
  const node = attempt.nodes.get(questionId);
  const state = node ? node.item.dataset.saveState : "";
  attempt.navigator.mark(questionId, {
    answered: isAnswered(attempt.nodes, questionId),
    flagged: attempt.flags.has(questionId),
    problem: state === "offline" || state === "error",
  });
  attempt.navigator.summary(attempt.flags.size);
}

/**
 * @param {OpenAttempt} attempt
 * @param {number} questionId
 */
function jumpTo(attempt, questionId) {
  const node = attempt.nodes.get(questionId);
  if (!node) return;
  node.item.scrollIntoView({ block: "start" });
  node.item.focus({ preventScroll: true });
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
  if (hasEnded(reply.data.status)) return finish(attempt);
  setOverdue(attempt, reply.data.status === "overdue");
  setDeadline(attempt, reply.data.deadline);
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
      // Every frame corrects the clock (clock.js allows for a drifting monotonic clock).
      clock.addSample(message.server_time, receivedAt);
      noteTick(attempt, receivedAt);
      if (hasEnded(message.status)) return finish(attempt);
      setOverdue(attempt, message.status === "overdue");
      setDeadline(attempt, message.deadline);
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
  if (!attempt.ended) dispatchFrame(contextOf(attempt), message, receivedAt);
}

/**
 * The hook context of the open attempt (what runAttemptOpen was given).
 * @param {OpenAttempt} attempt
 * @returns {import("./student-hooks.js").AttemptContext}
 */
function contextOf(attempt) {
  return {
    attemptId: attempt.id,
    examId: attempt.examId,
    socket: attempt.socket,
    session,
    clock,
    setLocked: (locked) => {
      attempt.moduleLock = locked;
      applyLock(attempt);
    },
    refresh: () => sampleClock(attempt),
  };
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
  const locked = attempt.ended || attempt.timeUp || attempt.moduleLock || attempt.overdue;
  for (const { fieldset } of attempt.nodes.values()) fieldset.disabled = locked;
  // In the hand-in window the answers are locked but the attempt can (and should) still be submitted.
  $("#submit-button", HTMLButtonElement).disabled = attempt.overdue ? attempt.ended || attempt.moduleLock : locked;
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
function hasEnded(status) {
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
async function checkEnd(attempt) {
  if (attempt.ended || attempt.checking) return;
  attempt.checking = true;
  try {
    const reply = await session.get(`/api/exam/timer/remaining/${attempt.id}/`, { timed: true });
    clock.addSample(reply.data.server_time, reply.received, reply.sent);
    if (hasEnded(reply.data.status)) return finish(attempt);
    setOverdue(attempt, reply.data.status === "overdue");
    setDeadline(attempt, reply.data.deadline);
    if (reply.data.remaining_seconds === 0 && !attempt.overdue) attempt.timers.push(setTimeout(() => checkEnd(attempt), 1000));
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
  const flagged = attempt.flags.size;
  $("#submit-summary").textContent = (answered === total
    ? `You answered all ${total} questions.`
    : `You answered ${answered} of ${total} questions; unanswered ones score nothing.`) +
    (flagged ? ` ${plural(flagged, "question")} ${flagged === 1 ? "is" : "are"} still flagged for review.` : "");
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
  closeAttempt(attempt);
  renderResult(result, attempt.questions, { late: attempt.late.list, deadline: attempt.deadline });
}

/**
 * The attempt is over here: stop it, record what never reached the server, forget its flags.
 * @param {OpenAttempt} attempt
 */
function closeAttempt(attempt) {
  leaveAttempt();
  attempt.queue.close();
  attempt.late.ended((questionId) => attempt.navigator.numbers.get(questionId) || 0);
  attempt.flags.clear();
}

/**
 * The attempt has ended on the server (submitted, timed out, force-submitted): show its result.
 * @param {OpenAttempt} attempt
 */
function finish(attempt) {
  if (attempt.ended) return;
  closeAttempt(attempt);
  showResult(attempt.id, attempt.questions, attempt.deadline);
}

/**
 * @param {number} id
 * @param {Question[]} questions
 * @param {number | null} deadline server epoch ms
 */
async function showResult(id, questions, deadline) {
  const ticket = ++visit;
  showView("result");
  $("#result-title").textContent = "Loading your result…";
  $("#result-details").replaceChildren();
  try {
    // Submitting an attempt that has already ended changes nothing and returns its result.
    const result = await session.post(`/api/exam/timer/submit/${id}/`);
    if (ticket === visit) renderResult(result, questions, { late: new LateAnswers(id).list, deadline });
  } catch (error) {
    if (ticket !== visit) return;
    $("#result-title").textContent = "Your exam has ended";
    $("#result-details").replaceChildren(
      el("p", { class: "form-error", role: "alert" }, `Could not load the result: ${error.message}`),
      el("button", { type: "button", onclick: () => showResult(id, questions, deadline) }, "Try again"),
    );
  }
}

// --- Messages --------------------------------------------------------------------------------

/**
 * The attempt's one-off notice (time warnings, extra time, a refused message).
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
$("#start-button").addEventListener("click", () => {
  if (instructionsExam) startExam(instructionsExam);
});
$("#instructions-back").addEventListener("click", () => go(""));
$("#back-button").addEventListener("click", () => go(""));
window.addEventListener("hashchange", showPlace);
window.addEventListener("beforeunload", (event) => {
  if (current && current.queue.pendingCount) event.preventDefault(); // unsaved answers: ask first
});
route();
