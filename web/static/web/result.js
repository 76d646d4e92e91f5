// @ts-check
// The result of an attempt (submitted or timed out): the score and each question's outcome.

import { $, announce, el, showView } from "./dom.js";

/**
 * The final screen of an attempt: its score and each question's outcome.
 * @param {import("./contract.js").Result} result
 * @param {import("./contract.js").Question[] | null} questions the attempt's questions, for their text, when known
 * @returns {void}
 */
export function renderResult(result, questions) {
  showView("result");
  history.replaceState(null, "", `#result-${result.attempt_id}`);
  const timedOut = result.status === "timeout";
  $("#result-title").textContent = timedOut ? "Time is up" : "Exam submitted";
  $("#result-view").dataset.status = result.status;
  const byId = new Map((questions || []).map((q) => [q.id, q]));
  const rows = result.results.map((row, index) => {
    const question = byId.get(row.question_id);
    const option = (/** @type {string} */ key) => `${key}${question && question.options[key] ? ` — ${question.options[key]}` : ""}`;
    const verdict = row.is_correct ? "✓ correct" : row.selected_option ? "✗ wrong" : "✗ not answered";
    return el(
      "li",
      { class: `result-row ${row.is_correct ? "correct" : "wrong"}` },
      el("p", { class: "question-text" }, `${index + 1}. ${question ? question.text : `Question ${row.question_id}`}`),
      el("p", {}, row.selected_option ? `Your answer: ${option(row.selected_option)} ` : "", el("strong", {}, verdict)),
      row.is_correct || row.correct_option === undefined
        ? null
        : el("p", { class: "muted" }, `Correct answer: ${option(row.correct_option)}`),
    );
  });
  $("#result-details").replaceChildren(
    el("p", { class: "score", id: "result-score" }, `${result.score} / ${result.max_score}`),
    el("p", { class: "muted" }, `${result.percentage}% · ${result.answered} of ${result.total_questions} answered` +
      (timedOut ? " · answers saved before the deadline were counted" : "")),
    el("ol", { class: "result-list" }, rows),
  );
  announce(`${$("#result-title").textContent}. Your score: ${result.score} out of ${result.max_score}.`);
}
