// @ts-check
// The review policy in words: what a student's result holds back and until when (student page),
// and what an exam's students see after ending (proctor page). The server applies the policy.

/** @typedef {import("./contract.js").Review} Review */
/** @typedef {import("./contract.js").ReviewPolicy} ReviewPolicy */

/**
 * What the result does not show yet, and when it will (empty when it shows all it ever will, beyond the score).
 * @param {Review} review
 * @returns {string}
 */
export function reviewNote(review) {
  if (!review.later) return review.shows === "score" ? "This exam shows the score only." : "";
  const what = review.later === "answers"
    ? "Your answers"
    : review.shows === "answers" ? "The correct answers" : "Your answers and the correct ones";
  /** @type {Record<string, string>} */
  const when = {
    exam_closed: "once the exam has closed for everyone",
    release: "when your proctor releases them",
    last_attempt: "once you have used your last attempt (or the exam has closed)",
  };
  return `${what} will be shown ${when[review.waits_for || ""] || "later"}.`;
}

/**
 * An exam's policy for its proctor: what its students see after ending, and when.
 * @param {ReviewPolicy} policy
 * @param {string | null} closesAt the exam's `closes_at`
 * @returns {string}
 */
export function describePolicy(policy, closesAt) {
  /** @type {Record<string, string>} */
  const what = {
    score: "their score only",
    answers: "their score and their answers",
    correct: "their score, their answers and the correct ones",
  };
  if (policy.shows === "score") return "Students see their score only.";
  let when;
  if (policy.released_at) when = "now: you released the review";
  else if (policy.when === "at_once") when = "as soon as they finish";
  else if (policy.when === "closed" && closesAt) when = "once the exam has closed and nobody is still sitting it";
  else when = "once you release the review";
  const caveat = policy.shows === "correct" ? " (the correct answers only once a student can't sit the exam again)" : "";
  return `Students see ${what[policy.shows]} ${when}${caveat}.`;
}

/**
 * Whether a release would show students more than the policy already does.
 * @param {ReviewPolicy} policy
 * @returns {boolean}
 */
export function canRelease(policy) {
  return policy.shows !== "score" && policy.when !== "at_once" && !policy.released_at;
}
