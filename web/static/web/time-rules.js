// @ts-check
// The student's time rules on the page: their accommodation on the instructions page, and on the
// open attempt a line with their time ("Your time: 90 min including 30 min extra time") and
// their close, kept current by `time_changed` (an accommodation applied, their close moved), which
// also re-reads the clock so the countdown shows the new end at once.

import { describeAllowance, minutes, yourTime } from "./allowance.js";
import { hideBanner, showBanner } from "./banners.js";
import { announce } from "./dom.js";
import { onAttemptOpen, onFrame, registerInstructionsLine } from "./student-hooks.js";

const BANNER = "time-rules";

/** @param {string} iso */
function local(iso) {
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

registerInstructionsLine((exam) => {
  const lines = [];
  if (exam.accommodation_seconds > 0) lines.push(yourTime(exam.allotted_seconds, exam.accommodation_seconds));
  if (exam.student_close_at && exam.student_close_at !== exam.closes_at) {
    lines.push(`The exam closes for you at ${local(exam.student_close_at)}`);
  }
  return lines.length ? lines.join(". ") : null;
});

/**
 * @param {import("./allowance.js").Allowance | undefined} allowance
 */
function show(allowance) {
  if (!allowance) return;
  showBanner(BANNER, { kind: "info", text: describeAllowance(allowance, local), order: 90 });
}

onAttemptOpen(() => () => hideBanner(BANNER));

onFrame("timer", (_ctx, frame) => show(frame.allowance));

onFrame("time_changed", (ctx, frame) => {
  show(frame.allowance);
  ctx.refresh();
  const moved = frame.added_seconds;
  const what = frame.change === "close" ? "Your close moved" : "Your time changed";
  announce(moved > 0 ? `${what}: ${minutes(moved)} more.` : moved < 0 ? `${what}: ${minutes(-moved)} less.` : `${what}.`);
});
