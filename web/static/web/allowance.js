// @ts-check
// An attempt's time in words (pure, unit-tested by tests/js/allowance.test.mjs): "Your time: 90 min
// including 30 min extra time". Read from the server's `allowance` (REST start/questions, the
// socket's `timer` on connect and `time_changed`) or an exam listing's `allotted_seconds`.

/**
 * @typedef {object} Allowance
 * @property {number} allotted_seconds fixed at the start: duration x accommodation multiplier + extra
 * @property {number} accommodation_seconds the part of it that is the student's accommodation
 * @property {number} granted_seconds net time proctors granted since (< 0: taken)
 * @property {number} paused_seconds time paused so far
 * @property {string | null} close_at this attempt's hard close
 */

/**
 * Whole minutes, rounded up (never shows less time than there is): 5400 -> "90 min", 90 -> "2 min".
 * @param {number} seconds
 * @returns {string}
 */
export function minutes(seconds) {
  return `${Math.ceil(Math.max(0, seconds) / 60)} min`;
}

/**
 * "Your time: 90 min including 30 min extra time" (or "Your time: 60 min" without an accommodation).
 * @param {number} allottedSeconds
 * @param {number} accommodationSeconds
 * @returns {string}
 */
export function yourTime(allottedSeconds, accommodationSeconds) {
  const base = `Your time: ${minutes(allottedSeconds)}`;
  return accommodationSeconds > 0 ? `${base} including ${minutes(accommodationSeconds)} extra time` : base;
}

/**
 * The line shown during the attempt: its time, what proctors granted, and its hard close.
 * @param {Allowance} allowance
 * @param {(iso: string) => string} [timeOfDay] how to write the close (default: the ISO text)
 * @returns {string}
 */
export function describeAllowance(allowance, timeOfDay = (iso) => iso) {
  const parts = [yourTime(allowance.allotted_seconds, allowance.accommodation_seconds)];
  if (allowance.granted_seconds > 0) parts.push(`${minutes(allowance.granted_seconds)} more given by a proctor`);
  if (allowance.granted_seconds < 0) parts.push(`${minutes(-allowance.granted_seconds)} taken by a proctor`);
  if (allowance.close_at) parts.push(`the exam closes for you at ${timeOfDay(allowance.close_at)}`);
  return parts.join("; ");
}
