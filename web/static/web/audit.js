// @ts-check
// The time audit on the proctor dashboard: each row's "Time log" opens a dialog with the attempt's
// deadline explained line by line (GET /api/proctor/attempts/<id>/audit/), a toolbar button saves
// every attempt's log as CSV, and a column shows each attempt's allotted time with its accommodation.

import { minutes } from "./allowance.js";
import { dashboard } from "./dashboard.js";
import { el } from "./dom.js";
import { download } from "./exports.js";

/** @typedef {import("./contract.js").AttemptRow} AttemptRow */

/**
 * @typedef {object} AuditLine
 * @property {string} at
 * @property {string} kind
 * @property {string} text
 * @property {string} by
 * @property {string} reason
 * @property {number} seconds
 * @property {string | null} end
 */

/** @param {string | null} iso */
function clockTime(iso) {
  return iso ? new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" }) : "—";
}

/** @param {number} seconds */
function signed(seconds) {
  if (!seconds) return "";
  return seconds > 0 ? `+${minutes(seconds)}` : `−${minutes(-seconds)}`;
}

/** @returns {HTMLDialogElement} */
function dialog() {
  const existing = document.getElementById("audit-dialog");
  if (existing instanceof HTMLDialogElement) return existing;
  const created = el(
    "dialog",
    { id: "audit-dialog", "aria-labelledby": "audit-title" },
    el("h2", { id: "audit-title" }, "Time log"),
    el("p", { id: "audit-summary" }),
    el("div", { id: "audit-body" }),
    el("form", { method: "dialog" }, el("button", { type: "submit" }, "Close")),
  );
  document.body.append(created);
  return created;
}

/**
 * @param {AttemptRow} row
 * @param {import("./dashboard.js").DashboardContext} ctx
 */
async function openLog(row, ctx) {
  const box = dialog();
  const title = /** @type {HTMLElement} */ (box.querySelector("#audit-title"));
  const summary = /** @type {HTMLElement} */ (box.querySelector("#audit-summary"));
  const body = /** @type {HTMLElement} */ (box.querySelector("#audit-body"));
  title.textContent = `Time log: ${row.student}`;
  summary.textContent = "Loading…";
  body.replaceChildren();
  box.showModal();
  try {
    const log = await ctx.session.get(`/api/proctor/attempts/${row.attempt_id}/audit/`);
    summary.textContent = log.consistent
      ? `Ends at ${clockTime(log.deadline)}: every line below adds up to it.`
      : `The stored end (${clockTime(log.deadline)}) differs from what the log explains (${clockTime(log.explained_deadline)}).`;
    const rows = /** @type {AuditLine[]} */ (log.lines).map((line) =>
      el(
        "tr",
        { dataset: { kind: line.kind } },
        el("td", {}, clockTime(line.at)),
        el("td", {}, line.text),
        el("td", {}, [line.by, line.reason].filter(Boolean).join(": ")),
        el("td", {}, signed(line.seconds)),
        el("td", {}, clockTime(line.end)),
      ),
    );
    body.replaceChildren(
      el(
        "table",
        { class: "audit-lines" },
        el("thead", {}, el("tr", {}, ...["When", "What", "Who, why", "End moved", "Ends"].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, ...rows),
      ),
      el(
        "button",
        {
          type: "button",
          onclick: () =>
            download(ctx.session, `/api/proctor/attempts/${row.attempt_id}/audit.csv`, `attempt-${row.attempt_id}-audit.csv`)
              .catch((error) => ctx.feed(error.message, "error")),
        },
        "Save as CSV",
      ),
    );
  } catch (error) {
    summary.textContent = /** @type {Error} */ (error).message;
  }
}

dashboard.addRowAction({
  key: "audit",
  label: "Time log",
  applies: () => true,
  run: (row, ctx) => void openLog(row, ctx),
});

dashboard.addToolbarAction({
  key: "audit-csv",
  label: "Time audit (CSV)",
  run(ctx) {
    download(ctx.session, `/api/proctor/exams/${ctx.examId}/audit.csv`, `exam-${ctx.examId}-audit.csv`)
      .catch((error) => ctx.feed(error.message, "error"));
  },
});

dashboard.addColumn({
  key: "allotted",
  label: "Allotted",
  cell(row) {
    if (typeof row.allotted_seconds !== "number") return "";
    return row.accommodation_seconds > 0
      ? `${minutes(row.allotted_seconds)} (incl. ${minutes(row.accommodation_seconds)} accommodation)`
      : minutes(row.allotted_seconds);
  },
});
