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
// below, in the "Feature modules" block, and nowhere else. This module routes between the views
// and holds the list and the instructions; the open attempt is attempt-screen.js, its end
// (submit, result) attempt-end.js.

import { openSubmitDialog, submitAttempt } from "./attempt-end.js";
import { currentAttempt, hasEnded, leaveAttempt, openAttempt } from "./attempt-screen.js";
import { $, el, showError, showView } from "./dom.js";
import { examCard } from "./exams.js";
import { renderInstructions } from "./instructions.js";
import { bindSignIn, loadUser, showSignIn } from "./signin.js";
import { runPreStart } from "./student-hooks.js";
import { clock, newVisit, session, stillVisiting } from "./student-session.js";

// --- Feature modules (each registers its hooks when imported) -------------------------------
import "./student-room.js";
import "./waiting.js";
import "./pause.js";
import "./time-rules.js";

/** @typedef {import("./contract.js").StudentExam} StudentExam */

session.onExpired = (/** @type {import("./api.js").ApiError} */ error) => {
  leaveAttempt();
  showSignIn(error.message);
};

/** @type {() => void} undoes the pre-start modules' work when the instructions page is left */
let leavePreStart = () => {};
/** @type {StudentExam | null} the exam whose instructions are shown */
let instructionsExam = null;

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
  if (match[1] === "exam") return showInstructions(Number(match[2]));
  leaveViews();
  // An ended attempt shows its result.
  openAttempt(Number(match[2])).then((failure) => {
    if (failure) showExams(failure);
  });
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
  const ticket = newVisit();
  showView("exams");
  const list = $("#exam-list");
  showError($("#exams-error"), message);
  list.replaceChildren(el("li", { class: "muted" }, "Loading exams…"));
  /** @type {StudentExam[]} */
  let exams;
  try {
    ({ exams } = await session.get("/api/exams/"));
  } catch (error) {
    if (!stillVisiting(ticket)) return;
    list.replaceChildren();
    if (error.status !== 401) showError($("#exams-error"), `Could not load your exams: ${error.message}`);
    return;
  }
  if (!stillVisiting(ticket)) return;
  const cards = exams.map((exam) => examCard(exam, cardActions));
  list.replaceChildren(...(cards.length ? cards : [el("li", { class: "muted" }, "No exams are published yet.")]));
}

/** @type {import("./exams.js").CardActions} */
const cardActions = { onOpen: (id) => go(`#attempt-${id}`), onStart: (exam) => go(`#exam-${exam.id}`) };

// --- The instructions page: nothing starts until the student presses Start ----------------------

/** @param {number} examId */
async function showInstructions(examId) {
  leaveViews();
  const ticket = newVisit();
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
    if (stillVisiting(ticket) && error.status !== 401) showExams(`Could not load the exam: ${error.message}`);
    return;
  }
  if (!stillVisiting(ticket)) return;
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
  const attempt = currentAttempt();
  if (attempt && attempt.queue.pendingCount) event.preventDefault(); // unsaved answers: ask first
});
route();
