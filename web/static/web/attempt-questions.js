// @ts-check
// The open attempt's questions: a choice on its way (kept for the late-answer report), each
// save state shown on the question and in the navigator, the connection banner's count of
// answers waiting, and the navigator's jump to a question.

import { isAnswered, renderSaveState } from "./questions.js";
import { clock } from "./student-session.js";

/** @typedef {import("./attempt-screen.js").OpenAttempt} OpenAttempt */

/**
 * The student chose (or cleared, `null`) an answer.
 * @param {OpenAttempt} attempt
 * @param {number} questionId
 * @param {string | null} option
 */
export function choose(attempt, questionId, option) {
  attempt.late.chosen(questionId, option, clock.now());
  attempt.queue.choose(questionId, option);
}

/**
 * @param {OpenAttempt} attempt
 * @param {number} questionId
 * @param {import("./questions.js").SaveState} state
 * @param {import("./answers.js").SaveDetail} detail
 */
export function onSaveState(attempt, questionId, state, detail) {
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
export function markQuestion(attempt, questionId) {
  const node = attempt.nodes.get(questionId);
  const state = node ? node.item.dataset.saveState : "";
  attempt.navigator.mark(questionId, {
    answered: isAnswered(attempt.nodes, questionId),
    flagged: attempt.flags.has(questionId),
    problem: state === "offline" || state === "held" || state === "error",
  });
  attempt.navigator.summary(attempt.flags.size);
}

/**
 * @param {OpenAttempt} attempt
 * @param {number} questionId
 */
export function jumpTo(attempt, questionId) {
  const node = attempt.nodes.get(questionId);
  if (!node) return;
  node.item.scrollIntoView({ block: "start" });
  node.item.focus({ preventScroll: true });
}
