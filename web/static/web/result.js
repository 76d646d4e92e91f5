// @ts-check
// The result of an attempt (submitted or timed out): the score, and each question's outcome as far
// as the exam's review policy shows it (the server decides; `result.review` says what it shows).

import { $, announce, el, showView } from "./dom.js";
import { describeLate } from "./late.js";
import { reviewNote } from "./review.js";

/**
 * The result's title: who ended the attempt.
 * @param {import("./contract.js").Result} result
 * @returns {string}
 */
export function resultTitle(result) {
  if (result.ended_by === "proctor") return "Your exam was ended by the proctor";
  return result.status === "timeout" ? "Time is up" : "Exam submitted";
}

/**
 * The final screen of an attempt: its score and, as far as the review shows them, each question's
 * outcome; then the answers that did not count, and why (`late`, kept by this device).
 * @param {import("./contract.js").Result} result
 * @param {import("./contract.js").Question[] | null} questions the attempt's questions, for their text, when known
 * @param {{late: import("./late.js").LateAnswer[], deadline: number | null}} [extra]
 * @returns {void}
 */
export function renderResult(result, questions, extra = { late: [], deadline: null }) {
  showView("result");
  history.replaceState(null, "", `#result-${result.attempt_id}`);
  const timedOut = result.status === "timeout";
  const { shows } = result.review;
  $("#result-title").textContent = resultTitle(result);
  $("#result-view").dataset.status = result.status;
  $("#result-view").dataset.endedBy = result.ended_by || "";
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
  if (result.ended_by === "proctor") {
    details.push(el("p", { class: "forced-note", id: "forced-note" },
      "A proctor ended your exam before you submitted it. The answers saved until then were counted."));
  }
  if (extra.late.length) {
    details.push(el("div", { class: "late-answers", id: "late-answers" },
      el("h2", {}, extra.late.length === 1 ? "1 answer did not count" : `${extra.late.length} answers did not count`),
      el("ul", {}, extra.late.map((late) => el("li", {}, describeLate(late, extra.deadline))))));
  }
  if (note) details.push(el("p", { class: "review-note", id: "review-note" }, note));
  if (rows.length) details.push(el("ol", { class: "result-list" }, rows));
  $("#result-details").replaceChildren(...details);
  announce(`${$("#result-title").textContent}. Your score: ${result.score} out of ${result.max_score}.`);
}
