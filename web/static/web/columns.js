// @ts-check
// The proctor table's own columns (feature modules add theirs through dashboard.addColumn).

import { parseTime, remainingSeconds } from "./clock.js";
import { ago, describeSeconds, el, formatDuration, timeOfDay } from "./dom.js";
import { lastAnswerOrStart, secondsLeft, unfinished } from "./row-state.js";

/** @typedef {import("./contract.js").AttemptRow} AttemptRow */
/** @typedef {import("./dashboard.js").Column} Column */

/** @type {Record<string, string>} */
export const STATUS_TEXT = { ongoing: "In progress", overdue: "Hand-in", completed: "Submitted", timeout: "Timed out" };

/** @param {AttemptRow} row */
const connected = (row) => unfinished(row) && row.connected;
/** @param {AttemptRow} row */
const endOf = (row) => parseTime(row.ended_at ?? row.deadline);

/** @param {AttemptRow} row */
const deadlineOrNever = (row) => row.status === "ongoing" ? parseTime(row.deadline) : Number.MAX_SAFE_INTEGER;

/** @type {Column[]} */
export const BUILT_IN = [
  {
    key: "status",
    label: "Status",
    cell: (row) => el("span", { class: `badge ${row.status}` }, STATUS_TEXT[row.status] || row.status),
    sort: (a, b) => (STATUS_TEXT[a.status] || "").localeCompare(STATUS_TEXT[b.status] || ""),
  },
  {
    key: "remaining",
    label: "Time left",
    ticks: true,
    cell: (row, now) => {
      if (row.status === "overdue" && row.hand_in_until) {
        return `hand in: ${formatDuration(remainingSeconds(parseTime(row.hand_in_until), now))}`;
      }
      const left = secondsLeft(row, now);
      if (left === null) return row.status === "timeout" || row.status === "overdue" ? "0:00" : "—";
      return left > 0 ? formatDuration(left) : "0:00 (ending…)";
    },
    sort: (a, b) => deadlineOrNever(a) - deadlineOrNever(b),
  },
  {
    key: "answered",
    label: "Answered",
    cell: (row) => `${row.answered} / ${row.total_questions}`,
    sort: (a, b) => a.answered / (a.total_questions || 1) - b.answered / (b.total_questions || 1),
  },
  {
    key: "connected",
    label: "Connection",
    cell: (row) => unfinished(row)
      ? el("span", { class: `presence ${row.connected ? "online" : "offline"}` }, row.connected ? "Connected" : "Not connected")
      : el("span", { class: "muted" }, "—"),
    sort: (a, b) => Number(connected(b)) - Number(connected(a)),
  },
  {
    key: "activity",
    label: "Last answer",
    ticks: true,
    cell: (row, now) => row.last_answer_at ? ago(now - lastAnswerOrStart(row)) : `none (started ${ago(now - parseTime(row.started_at))})`,
    sort: (a, b) => lastAnswerOrStart(b) - lastAnswerOrStart(a),
  },
  {
    key: "score",
    label: "Score",
    cell: (row) => unfinished(row) || row.score === null ? "—" : `${row.score} / ${row.max_score ?? 0}`,
    sort: (a, b) => (a.score ?? -1) - (b.score ?? -1),
  },
  {
    key: "extra",
    label: "Extra time",
    cell: (row) => row.extra_seconds > 0 ? `+${describeSeconds(row.extra_seconds)}` : "—",
    sort: (a, b) => a.extra_seconds - b.extra_seconds,
  },
  {
    key: "accommodation",
    label: "Accommodation",
    cell: (row) => {
      const extra = Number(/** @type {any} */ (row).accommodation_seconds) || 0;
      return extra > 0 ? `+${describeSeconds(extra)}` : "—";
    },
    sort: (a, b) => (Number(/** @type {any} */ (a).accommodation_seconds) || 0) - (Number(/** @type {any} */ (b).accommodation_seconds) || 0),
  },
  {
    key: "end",
    label: "Ends",
    cell: (row) => unfinished(row) ? timeOfDay(endOf(row)) : `ended ${timeOfDay(endOf(row))}`,
    sort: (a, b) => endOf(a) - endOf(b),
  },
];
