// web/static/web/review.js: the review policy in words, for the student's result and the proctor.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { canRelease, describePolicy, reviewNote } from "../../web/static/web/review.js";

describe("reviewNote", () => {
  test("says what comes later, and when", () => {
    assert.equal(
      reviewNote({ shows: "score", later: "correct", waits_for: "exam_closed" }),
      "Your answers and the correct ones will be shown once the exam has closed for everyone.",
    );
    assert.equal(
      reviewNote({ shows: "answers", later: "correct", waits_for: "last_attempt" }),
      "The correct answers will be shown once you have used your last attempt (or the exam has closed).",
    );
    assert.equal(
      reviewNote({ shows: "score", later: "answers", waits_for: "release" }),
      "Your answers will be shown when your proctor releases them.",
    );
  });

  test("is empty when all is shown, and says so for a score-only exam", () => {
    assert.equal(reviewNote({ shows: "correct" }), "");
    assert.equal(reviewNote({ shows: "answers" }), "");
    assert.equal(reviewNote({ shows: "score" }), "This exam shows the score only.");
  });
});

describe("describePolicy", () => {
  const policy = (/** @type {object} */ changes) => ({ shows: "correct", when: "closed", released_at: null, ...changes });

  test("names what and when, and that correct answers wait for a student's last attempt", () => {
    assert.equal(
      describePolicy(policy({}), "2030-01-01T00:00:00.000Z"),
      "Students see their score, their answers and the correct ones once the exam has closed and nobody is " +
        "still sitting it (the correct answers only once a student can't sit the exam again).",
    );
    assert.equal(describePolicy(policy({ shows: "answers", when: "at_once" }), null), "Students see their score and their answers as soon as they finish.");
    assert.equal(describePolicy(policy({ shows: "score" }), null), "Students see their score only.");
  });

  test("an exam without closes_at, and a released one", () => {
    assert.match(describePolicy(policy({}), null), / once you release the review /);
    assert.match(describePolicy(policy({ when: "released", released_at: "2030-01-01T00:00:00.000Z" }), null), / now: you released the review /);
  });
});

describe("canRelease", () => {
  test("only when a release would show more", () => {
    assert.equal(canRelease({ shows: "correct", when: "closed", released_at: null }), true);
    assert.equal(canRelease({ shows: "answers", when: "released", released_at: null }), true);
    assert.equal(canRelease({ shows: "correct", when: "closed", released_at: "2030-01-01T00:00:00.000Z" }), false);
    assert.equal(canRelease({ shows: "correct", when: "at_once", released_at: null }), false);
    assert.equal(canRelease({ shows: "score", when: "released", released_at: null }), false);
  });
});
