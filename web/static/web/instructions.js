// @ts-check
// The instructions page, before the clock starts: the exam's title, how long the student has
// (their accommodation included), the rules, and an explicit "Start". Nothing starts the
// attempt but that button (or a pre-start module that takes over, e.g. a waiting room).

import { $, describeSeconds, el, plural } from "./dom.js";
import { instructionsLines } from "./student-hooks.js";

/** @typedef {import("./contract.js").StudentExam} StudentExam */

/** What every exam's rules say, after the exam's own description. */
const STANDARD_RULES = [
  "The clock starts when you press Start and keeps running if you close this page or lose your connection.",
  "Your answers are saved as you go. Offline, they are kept on this device and sent when you reconnect; " +
    "answers that reach the server after the deadline do not count.",
  "You can flag a question for review and clear a choice at any time until you submit.",
];

/**
 * How long this student has for the exam, in seconds: the exam's duration plus their
 * accommodation, when the server gives one (`accommodation_seconds`).
 * @param {StudentExam} exam
 * @returns {{total: number, extra: number}}
 */
export function studentDuration(exam) {
  const extra = Math.max(0, Number(/** @type {any} */ (exam).accommodation_seconds) || 0);
  return { total: exam.duration_seconds + extra, extra };
}

/**
 * Fill the instructions view for `exam`.
 * @param {StudentExam} exam
 * @returns {void}
 */
export function renderInstructions(exam) {
  const { total, extra } = studentDuration(exam);
  $("#instructions-title").textContent = exam.title;
  const duration = extra
    ? `${describeSeconds(total)} (${describeSeconds(exam.duration_seconds)} plus ${describeSeconds(extra)} extra time for you)`
    : describeSeconds(total);
  /** @type {[string, string][]} */
  const facts = [
    ["Time", duration],
    ["Questions", plural(exam.total_questions, "question")],
    ["Attempts", exam.max_attempts > 1 ? `${exam.attempts.length + 1} of ${exam.max_attempts}` : "1 (no second try)"],
  ];
  if (exam.closes_at) facts.push(["Closes", new Date(exam.closes_at).toLocaleString()]);
  $("#instructions-facts").replaceChildren(...facts.flatMap(([term, value]) => [el("dt", {}, term), el("dd", {}, value)]));
  $("#instructions-extra").replaceChildren(...instructionsLines(exam).map((line) => el("p", {}, line)));
  const own = exam.description ? exam.description.split(/\n\s*\n/).map((part) => el("p", { class: "exam-rules" }, part)) : [];
  $("#instructions-rules").replaceChildren(...own, el("ul", {}, STANDARD_RULES.map((rule) => el("li", {}, rule))));
}
