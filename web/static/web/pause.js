// @ts-check
// The paused screen (issue 11 §4): while a proctor has paused the attempt, the questions are out of
// reach behind an overlay that says why, and the answers are locked. The server keeps ticking with
// the time left standing still; on `resumed` the page reads its clock again.

import { hideOverlay, showOverlay } from "./banners.js";
import { onAttemptOpen, onFrame } from "./student-hooks.js";

/** What each pause category (IncidentCategory) tells the student. */
export const REASONS = {
  environment: "Something in the room (a fire alarm, noise, power)",
  examinee: "A matter concerning a student",
  technical: "A technical problem (device, network, platform)",
  staff: "A proctor's action",
  other: "Another reason",
};

/**
 * The overlay's text for a `paused` frame (or a `timer` frame of a paused attempt).
 * @param {{category?: string | null, note?: string, remaining_seconds: number}} frame
 * @returns {string}
 */
export function pausedText(frame) {
  const reason = (frame.category && REASONS[/** @type {keyof typeof REASONS} */ (frame.category)]) || "";
  const note = frame.note ? ` ${frame.note}` : "";
  const minutes = Math.floor(frame.remaining_seconds / 60);
  const seconds = String(frame.remaining_seconds % 60).padStart(2, "0");
  return `${reason ? `${reason}.` : "A proctor paused the exam."}${note} Your clock is stopped at ` +
    `${minutes}:${seconds}; you lose no time. The questions come back when the exam resumes.`;
}

/** @type {boolean} */
let paused = false;

/**
 * @param {import("./student-hooks.js").AttemptContext} context
 * @param {any} frame
 */
function pause(context, frame) {
  paused = true;
  context.setLocked(true);
  showOverlay("paused", { title: "Exam paused", text: pausedText(frame) });
}

/** @param {import("./student-hooks.js").AttemptContext} context */
function resume(context) {
  if (!paused) return;
  paused = false;
  context.setLocked(false);
  hideOverlay("paused");
  context.refresh();
}

onAttemptOpen(() => () => {
  paused = false;
});
onFrame("paused", pause);
onFrame("resumed", (context) => resume(context));
onFrame("timer", (context, frame) => {
  // A tick says it too: paused (a `paused` frame missed) or running again (a `resumed` missed).
  if (frame.paused_at && !paused) pause(context, frame);
  else if (!frame.paused_at && paused) resume(context);
});
