// @ts-check
// Bulk actions on the selection over other modules' endpoints: extend, pause, resume (time
// control, in slices of the contract's bulk limit) and message (announcements), each confirmed
// with its count by the dashboard.

import { BULK_SLICE } from "./actions.js";
import { withCloseChoice } from "./close-choice.js";
import { dashboard } from "./dashboard.js";
import { el, plural } from "./dom.js";

/** @typedef {import("./contract.js").AttemptRow} AttemptRow */
/** @typedef {import("./dashboard.js").DashboardContext} DashboardContext */

/** @param {AttemptRow} row */
const paused = (row) => Boolean(/** @type {any} */ (row).paused_at);
/** @param {AttemptRow} row */
const running = (row) => row.status === "ongoing" && !paused(row);

/**
 * POST `body` with each slice of the rows' ids as `attempt_ids`.
 * @param {DashboardContext} ctx
 * @param {string} action pause, resume or time
 * @param {AttemptRow[]} rows
 * @param {object} body
 */
async function inSlices(ctx, action, rows, body) {
  const path = `/api/proctor/exams/${ctx.examId}/${action}/`;
  /** @type {import("./close-choice.js").CloseChoice | undefined} */
  let chosen; // asked once (`past_close`), then sent with every later slice
  for (let i = 0; i < rows.length; i += BULK_SLICE) {
    const attempt_ids = rows.slice(i, i + BULK_SLICE).map((r) => r.attempt_id);
    const sent = await withCloseChoice((close) => {
      chosen = close || chosen;
      return ctx.session.post(path, { ...body, attempt_ids, ...(chosen ? { close: chosen } : {}) });
    });
    if (sent === null) throw new Error(i ? `Cancelled: ${plural(i, "attempt")} changed, the rest not.` : "Cancelled: nothing changed.");
  }
}

dashboard.addBulkAction({
  key: "bulk-extend",
  label: "Extend",
  applies: (row) => row.status === "ongoing",
  confirm: (rows) => `Give ${plural(rows.length, "attempt")} more time (each student's countdown changes at once).`,
  form: () => el("label", {}, "Extra minutes ", el("input", { name: "minutes", type: "number", min: "1", max: "1440", value: "5", required: true })),
  async run(rows, ctx, form) {
    const minutes = Number(form.get("minutes"));
    if (!Number.isInteger(minutes) || minutes < 1 || minutes > 1440) throw new Error("Enter a whole number of minutes from 1 to 1440.");
    await inSlices(ctx, "time", rows, { unit: "minutes", amount: minutes });
    return `You gave ${plural(rows.length, "attempt")} ${minutes} min more.`;
  },
});

dashboard.addBulkAction({
  key: "bulk-pause",
  label: "Pause",
  applies: running,
  confirm: (rows) => `Pause ${plural(rows.length, "attempt")}: their clocks stand still and they can't answer until resumed.`,
  form: () => el("label", {}, "Why ", el("select", { name: "category" },
    ["environment", "examinee", "technical", "staff", "other"].map((c) => el("option", { value: c }, c)))),
  async run(rows, ctx, form) {
    await inSlices(ctx, "pause", rows, { category: String(form.get("category") || "other") });
    return `You paused ${plural(rows.length, "attempt")}.`;
  },
});

dashboard.addBulkAction({
  key: "bulk-resume",
  label: "Resume",
  applies: (row) => row.status === "ongoing" && paused(row),
  confirm: (rows) => `Resume ${plural(rows.length, "paused attempt")}: their clocks run again.`,
  async run(rows, ctx) {
    await inSlices(ctx, "resume", rows, {});
    return `You resumed ${plural(rows.length, "attempt")}.`;
  },
});

// A message to each selected student (roomcomms' announcements: one per student, as the endpoint
// takes one attempt or the whole exam; the whole exam is its own toolbar action).
dashboard.addBulkAction({
  key: "bulk-message",
  label: "Message",
  applies: (row) => row.status === "ongoing" || row.status === "overdue",
  confirm: (rows) => `Send a message to ${plural(rows.length, "student")}; it stays on their screen until they acknowledge it.`,
  form: () => el("label", {}, "Message ", el("textarea", { name: "message", rows: "3", required: true, maxlength: "1000" })),
  async run(rows, ctx, form) {
    const message = String(form.get("message") || "").trim();
    if (!message) throw new Error("Write the message first.");
    for (const row of rows) {
      await ctx.session.post(`/api/proctor/exams/${ctx.examId}/announcements/`, { message, attempt_id: row.attempt_id });
    }
    return `You sent a message to ${plural(rows.length, "student")}.`;
  },
});
