// @ts-check
// What the dashboard derives from a proctor row and the time: time left, how long a student has
// been offline or silent, the highlight, and the summary bar's counts. Pure: no DOM.

import { parseTime, remainingSeconds } from "./clock.js";

/** @typedef {import("./contract.js").AttemptRow} AttemptRow */

/**
 * When a highlight starts: offline longer than `offlineMs`, or no answer saved for `idleMs`.
 * @typedef {{offlineMs: number, idleMs: number}} Thresholds
 */

/** @type {Thresholds} */
export const THRESHOLDS = { offlineMs: 60_000, idleMs: 10 * 60_000 };

/**
 * Whether an attempt is still being sat: in progress, or in its hand-in window (`overdue`).
 * @param {AttemptRow} row
 * @returns {boolean}
 */
export function unfinished(row) {
  return row.status === "ongoing" || row.status === "overdue";
}

/**
 * Whole seconds left of an ongoing attempt on the server's clock; null once it has ended.
 * @param {AttemptRow} row
 * @param {number} now server epoch ms
 * @returns {number | null}
 */
export function secondsLeft(row, now) {
  if (row.status !== "ongoing") return null;
  return remainingSeconds(parseTime(row.deadline), now);
}

/**
 * Since when an ongoing attempt's student has no socket open, as far as this page knows:
 * `seen` holds when the page saw each one go (a `student_disconnected`, or the first snapshot
 * that showed them offline). Null when connected or ended.
 * @param {AttemptRow} row
 * @param {Map<number, number>} seen
 * @returns {number | null}
 */
export function offlineSince(row, seen) {
  if (!unfinished(row) || row.connected) return null;
  return seen.get(row.attempt_id) ?? null;
}

/**
 * The time of the last saved answer, or of the start when none was saved yet.
 * @param {AttemptRow} row
 * @returns {number}
 */
export function lastAnswerOrStart(row) {
  return parseTime(row.last_answer_at ?? row.started_at);
}

/**
 * Why a row is highlighted: "offline" (longer than the threshold), "idle" (no answer saved for
 * long), or "" for neither. Only unfinished attempts are highlighted (idle: only ongoing ones).
 * @param {AttemptRow} row
 * @param {Map<number, number>} seen see offlineSince
 * @param {number} now
 * @param {Thresholds} [thresholds]
 * @returns {"offline" | "idle" | ""}
 */
export function highlight(row, seen, now, thresholds = THRESHOLDS) {
  const since = offlineSince(row, seen);
  if (since !== null && now - since > thresholds.offlineMs) return "offline";
  if (row.status === "ongoing" && now - lastAnswerOrStart(row) > thresholds.idleMs) return "idle";
  return "";
}

/**
 * @typedef {object} Summary
 * @property {number} total attempts
 * @property {number} ongoing unfinished (in progress or in the hand-in window)
 * @property {number} connected unfinished with a socket open
 * @property {number} offline unfinished, offline longer than the threshold
 * @property {number} idle ongoing, no answer saved for longer than the threshold
 * @property {number} finished submitted or timed out
 */

/**
 * The summary bar's counts.
 * @param {Iterable<AttemptRow>} rows
 * @param {Map<number, number>} seen see offlineSince
 * @param {number} now
 * @param {Thresholds} [thresholds]
 * @returns {Summary}
 */
export function summarize(rows, seen, now, thresholds = THRESHOLDS) {
  const sum = { total: 0, ongoing: 0, connected: 0, offline: 0, idle: 0, finished: 0 };
  for (const row of rows) {
    sum.total++;
    if (!unfinished(row)) {
      sum.finished++;
      continue;
    }
    sum.ongoing++;
    if (row.connected) sum.connected++;
    const mark = highlight(row, seen, now, thresholds);
    if (mark) sum[mark]++;
  }
  return sum;
}

/**
 * Whether a row passes the status filter's choice ("" for all).
 * @param {AttemptRow} row
 * @param {string} filter
 * @param {Map<number, number>} seen
 * @param {number} now
 * @param {Thresholds} [thresholds]
 * @returns {boolean}
 */
export function matchesStatus(row, filter, seen, now, thresholds = THRESHOLDS) {
  switch (filter) {
    case "": return true;
    case "ongoing": return unfinished(row);
    case "overdue": case "completed": case "timeout": return row.status === filter;
    case "finished": return !unfinished(row);
    case "connected": return unfinished(row) && row.connected;
    case "offline": case "idle": return highlight(row, seen, now, thresholds) === filter;
    case "flagged": return highlight(row, seen, now, thresholds) !== "";
    default: return true;
  }
}
