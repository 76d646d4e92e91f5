// @ts-check
// The student's list of published exams, one card each.

import { describeSeconds, el, plural } from "./dom.js";

/** @typedef {import("./contract.js").StudentExam} StudentExam */
/**
 * What the card's buttons do: open an attempt (resume the one in progress, or see an ended one's
 * result), or go to the instructions page, from where one is started.
 * @typedef {{onOpen: (attemptId: number) => void, onStart: (exam: StudentExam) => void}} CardActions
 */

/**
 * One exam: its size, the student's past attempts and a start or resume button.
 * @param {StudentExam} exam
 * @param {CardActions} actions
 * @returns {HTMLLIElement}
 */
export function examCard(exam, { onOpen, onStart }) {
  const ongoing = exam.attempts.find((a) => a.status === "ongoing" || a.status === "overdue");
  const meta = [
    plural(exam.total_questions, "question"),
    `${describeSeconds(exam.duration_seconds)}`,
    exam.max_attempts > 1 ? `${exam.max_attempts} attempts allowed` : "1 attempt",
  ].join(" · ");
  const past = exam.attempts
    .filter((a) => a !== ongoing)
    .map((a) => el("li", { dataset: { attemptId: a.attempt_id, endedBy: a.ended_by || "" } }, `Attempt ${a.number}: ${statusText(a)} — score ${a.score ?? 0} / ${a.max_score ?? 0} `,
      // What the result shows follows the exam's review policy, which may open later.
      el("button", { class: "link", type: "button", onclick: () => onOpen(a.attempt_id) }, "See result")));
  let action;
  if (ongoing) {
    action = el("button", { class: "primary", type: "button", onclick: () => onOpen(ongoing.attempt_id) }, "Resume exam");
  } else if (exam.attempts.length < exam.max_attempts) {
    action = el("button", { class: "primary", type: "button", onclick: () => onStart(exam) }, "Start exam");
  } else {
    action = el("p", { class: "muted" }, "No attempts left.");
  }
  return el(
    "li",
    { class: "card exam-card", dataset: { examId: exam.id } },
    el("h3", {}, exam.title),
    exam.description ? el("p", {}, exam.description) : null,
    el("p", { class: "muted" }, meta),
    past.length ? el("ul", { class: "past-attempts" }, past) : null,
    ongoing ? el("p", { class: "muted" }, "You have an attempt in progress; its clock kept running.") : null,
    action,
  );
}

/**
 * How the attempt ended, in words: a forced submission says the proctor ended it.
 * @param {import("./contract.js").PastAttempt} attempt
 * @returns {string}
 */
export function statusText(attempt) {
  if (attempt.ended_by === "proctor") return "ended by the proctor";
  /** @type {Record<string, string>} */
  const texts = { ongoing: "in progress", overdue: "time is up, not handed in yet", completed: "submitted", timeout: "timed out" };
  return texts[attempt.status] || attempt.status;
}
