// @ts-check
// The end of an attempt: the submit dialog, submitting, and the result (however it ended),
// with the answers that did not count as this device kept them (late.js).

import { currentAttempt, leaveAttempt, setNotice } from "./attempt-screen.js";
import { $, el, plural, showError, showView } from "./dom.js";
import { LateAnswers } from "./late.js";
import { renderProgress } from "./questions.js";
import { renderResult } from "./result.js";
import { newVisit, session, stillVisiting } from "./student-session.js";

/** @typedef {import("./attempt-screen.js").OpenAttempt} OpenAttempt */
/** @typedef {import("./contract.js").Question} Question */

/**
 * The submit dialog: what is answered, flagged and still being saved.
 * @returns {void}
 */
export function openSubmitDialog() {
  const attempt = currentAttempt();
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

/**
 * Submit the open attempt (once the dialog is confirmed), after its answers are saved.
 * @returns {Promise<void>}
 */
export async function submitAttempt() {
  const attempt = currentAttempt();
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
export function finish(attempt) {
  if (attempt.ended) return;
  closeAttempt(attempt);
  showResult(attempt.id, attempt.questions, attempt.deadline);
}

/**
 * @param {number} id
 * @param {Question[]} questions
 * @param {number | null} deadline server epoch ms
 */
export async function showResult(id, questions, deadline) {
  const ticket = newVisit();
  showView("result");
  $("#result-title").textContent = "Loading your result…";
  $("#result-details").replaceChildren();
  try {
    // Submitting an attempt that has already ended changes nothing and returns its result.
    const result = await session.post(`/api/exam/timer/submit/${id}/`);
    if (stillVisiting(ticket)) renderResult(result, questions, { late: new LateAnswers(id).list, deadline });
  } catch (error) {
    if (!stillVisiting(ticket)) return;
    $("#result-title").textContent = "Your exam has ended";
    $("#result-details").replaceChildren(
      el("p", { class: "form-error", role: "alert" }, `Could not load the result: ${error.message}`),
      el("button", { type: "button", onclick: () => showResult(id, questions, deadline) }, "Try again"),
    );
  }
}
