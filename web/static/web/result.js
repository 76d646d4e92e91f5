// @ts-check
// The result of an attempt (submitted or timed out): the score, and each question's outcome as far
// as the exam's review policy shows it (the server decides; `result.review` says what it shows).

import { $, announce, el, showView } from "./dom.js";
import { reviewNote } from "./review.js";

/**
 * The final screen of an attempt: its score and, as far as the review shows them, each question's outcome.
 * @param {import("./contract.js").Result} result
 * @param {import("./contract.js").Question[] | null} questions the attempt's questions, for their text, when known
 * @returns {void}
 */
export function renderResult(result, questions) {
  showView("result");
  history.replaceState(null, "", `#result-${result.attempt_id}`);
  const timedOut = result.status === "timeout";
  const { shows } = result.review;
  $("#result-title").textContent = timedOut ? "Time is up" : "Exam submitted";
  $("#result-view").dataset.status = result.status;
  $("#result-view").dataset.review = shows;
  const byId = new Map((questions || []).map((q) => [q.id, q]));
  const rows = shows === "score" ? [] : result.results.map((row, index) => {
    const question = byId.get(row.question_id);
    const option = (/** @type {string} */ key) => `${key}${question && question.options[key] ? ` — ${question.options[key]}` : ""}`;
    const verdict = shows !== "correct" ? "" : row.is_correct ? "✓ correct" : row.selected_option ? "✗ wrong" : "✗ not answered";
    const answer = row.selected_option ? `Your answer: ${option(row.selected_option)} ` : shows === "correct" ? "" : "Not answered";
    return el(
      "li",
      { class: `result-row ${shows !== "correct" ? "" : row.is_correct ? "correct" : "wrong"}` },
      el("p", { class: "question-text" }, `${index + 1}. ${question ? question.text : `Question ${row.question_id}`}`),
      el("p", {}, answer, verdict ? el("strong", {}, verdict) : null),
      row.is_correct || row.correct_option === undefined
        ? null
        : el("p", { class: "muted" }, `Correct answer: ${option(row.correct_option)}`),
    );
  });
  const note = reviewNote(result.review);
  /** @type {HTMLElement[]} */
  const details = [
    el("p", { class: "score", id: "result-score" }, `${result.score} / ${result.max_score}`),
    el("p", { class: "muted" }, `${result.percentage}% · ${result.answered} of ${result.total_questions} answered` +
      (timedOut ? " · answers saved before the deadline were counted" : "")),
  ];
  if (note) details.push(el("p", { class: "review-note", id: "review-note" }, note));
  if (rows.length) details.push(el("ol", { class: "result-list" }, rows));
  $("#result-details").replaceChildren(...details);
  announce(`${$("#result-title").textContent}. Your score: ${result.score} out of ${result.max_score}.`);
}
