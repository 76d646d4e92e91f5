// @ts-check
// The dashboard's own actions on attempts: extra time and force submit per row, and force
// submit in bulk (one request for the whole selection).

import { withCloseChoice } from "./close-choice.js";
import { dashboard } from "./dashboard.js";
import { $, describeSeconds, formatDuration, plural, showError } from "./dom.js";
import { secondsLeft, unfinished } from "./row-state.js";

/** @typedef {import("./contract.js").AttemptRow} AttemptRow */
/** @typedef {import("./dashboard.js").DashboardContext} DashboardContext */

// An action's dialog outlived its attempt on the dashboard (the exam was closed meanwhile).
const GONE = "This attempt is no longer on the dashboard.";
// Attempt ids per bulk request (the contract's limit: bulk action).
export const BULK_SLICE = 100;
/** @param {AttemptRow} row */
const ongoing = (row) => row.status === "ongoing";

/** @type {{ctx: DashboardContext, id: number} | null} */
let target = null;

dashboard.addRowAction({
  key: "extend",
  label: "Extend…",
  ariaLabel: (row) => `Extend time for ${row.student}`,
  applies: ongoing,
  run(row, ctx) {
    target = { ctx, id: row.attempt_id };
    $("#extend-student").textContent = row.student;
    const left = secondsLeft(row, ctx.clock.now());
    $("#extend-left").textContent = left === null ? "ended" : formatDuration(left);
    showError($("#extend-error"), "");
    $("#extend-dialog", HTMLDialogElement).showModal();
    $("#extend-minutes", HTMLInputElement).select();
  },
});

dashboard.addRowAction({
  key: "force",
  label: "Force submit",
  danger: true,
  applies: unfinished,
  run(row, ctx) {
    target = { ctx, id: row.attempt_id };
    $("#force-student").textContent = row.student;
    showError($("#force-error"), "");
    $("#force-dialog", HTMLDialogElement).showModal();
  },
});

dashboard.addBulkAction({
  key: "force-submit",
  label: "Force submit",
  danger: true,
  applies: unfinished,
  confirm: (rows) => `End ${plural(rows.length, "attempt")} now. Each is scored on the answers saved so far and its student can't answer any more.`,
  async run(rows, ctx) {
    let ended = 0;
    // In slices that fit the server's body size (limits: bulk action, message size).
    for (let i = 0; i < rows.length; i += BULK_SLICE) {
      const ids = rows.slice(i, i + BULK_SLICE).map((r) => r.attempt_id);
      /** @type {import("./contract.js").BulkForceSubmitted} */
      const reply = await ctx.session.post(`/api/proctor/exams/${ctx.examId}/force-submit/`, { attempt_ids: ids });
      for (const row of reply.attempts) ctx.upsert(row);
      ended += reply.submitted.length;
    }
    const already = rows.length - ended;
    return `You force-submitted ${plural(ended, "attempt")}${already ? ` (${already} had already ended)` : ""}.`;
  },
});

/** @param {SubmitEvent} event */
async function submitExtend(event) {
  event.preventDefault();
  const dialog = $("#extend-dialog", HTMLDialogElement);
  const minutes = Number($("#extend-minutes", HTMLInputElement).value);
  if (!Number.isInteger(minutes) || minutes < 1 || minutes > 1440) {
    return showError($("#extend-error"), "Enter a whole number of minutes from 1 to 1440.");
  }
  const row = target && target.ctx.rows.get(target.id);
  if (!target || !row) return showError($("#extend-error"), GONE);
  const { ctx, id } = target;
  const button = /** @type {HTMLButtonElement} */ (event.submitter || dialog.querySelector("button[type=submit]"));
  button.disabled = true;
  try {
    const seconds = minutes * 60;
    const sent = await withCloseChoice((close) => {
      const body = close ? { seconds, close } : { seconds };
      return ctx.send({ type: "extend", attempt_id: id, ...body }, `/api/exam/timer/extend/${id}/`, body);
    });
    if (sent === null) return; // the proctor cancelled at the close
    dialog.close();
    ctx.feed(`You gave ${row.student} ${describeSeconds(seconds)} more.`, "action");
  } catch (error) {
    showError($("#extend-error"), error.message);
  } finally {
    button.disabled = false;
  }
}

/** @param {SubmitEvent} event */
async function submitForce(event) {
  event.preventDefault();
  const dialog = $("#force-dialog", HTMLDialogElement);
  const row = target && target.ctx.rows.get(target.id);
  if (!target || !row) return showError($("#force-error"), GONE);
  const { ctx, id } = target;
  const button = /** @type {HTMLButtonElement} */ (event.submitter || dialog.querySelector("button[type=submit]"));
  button.disabled = true;
  try {
    const result = await ctx.send({ type: "force_submit", attempt_id: id }, `/api/exam/timer/force-submit/${id}/`);
    dialog.close();
    ctx.feed(`You force-submitted ${row.student}'s attempt (score ${result.score} / ${result.max_score}).`, "action");
  } catch (error) {
    showError($("#force-error"), error.message);
  } finally {
    button.disabled = false;
  }
}

dashboard.on("exam", () => {
  target = null;
});
$("#extend-form").addEventListener("submit", submitExtend);
$("#force-form").addEventListener("submit", submitForce);
