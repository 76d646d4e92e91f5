// @ts-check
// Bulk selection: the bar that says how many attempts are selected and offers each registered
// bulk action with the number of them it applies to, and the one confirmation dialog, which
// names that number before anything is done.

import { dashboard } from "./dashboard.js";
import { $, el, plural, showError } from "./dom.js";

/** @typedef {import("./dashboard.js").DashboardContext} DashboardContext */
/** @typedef {import("./dashboard.js").BulkAction} BulkAction */
/** @typedef {import("./contract.js").AttemptRow} AttemptRow */
/** @typedef {{selected: Set<number>, rows: Map<number, AttemptRow>, clearSelection(): void}} Selection */

/**
 * The selected rows a bulk action applies to.
 * @param {BulkAction} action
 * @param {Selection} table
 * @returns {AttemptRow[]}
 */
export function targets(action, table) {
  const rows = [];
  for (const id of table.selected) {
    const row = table.rows.get(id);
    if (row && action.applies(row)) rows.push(row);
  }
  return rows;
}

/**
 * Redraw the selection bar (hidden when nothing is selected).
 * @param {DashboardContext} _ctx
 * @param {Selection} table
 * @returns {void}
 */
export function renderSelection(_ctx, table) {
  const bar = $("#selection-bar");
  const n = table.selected.size;
  bar.hidden = n === 0;
  $("#selection-count").textContent = `${plural(n, "attempt")} selected`;
  // Only actions that apply to some of the selection are offered (no dead buttons).
  $("#bulk-actions").replaceChildren(...dashboard.bulkActions.map((action) => {
    const count = targets(action, table).length;
    return count ? el("button", { type: "button", class: action.danger ? "small danger" : "small", dataset: { action: action.key } }, `${action.label} (${count})…`) : null;
  }).filter((b) => b !== null));
}

/** @type {{action: BulkAction, rows: AttemptRow[], ctx: DashboardContext, table: Selection} | null} */
let pending = null;

/**
 * Ask to confirm a bulk action on the selected rows it applies to.
 * @param {DashboardContext} ctx
 * @param {Selection} table
 * @param {string} key
 * @returns {void}
 */
export function openBulk(ctx, table, key) {
  const action = dashboard.bulkActions.find((a) => a.key === key);
  if (!action) return;
  const rows = targets(action, table);
  if (!rows.length) return;
  pending = { action, rows, ctx, table };
  $("#bulk-title").textContent = `${action.label}: ${plural(rows.length, "attempt")}?`;
  const skipped = table.selected.size - rows.length;
  $("#bulk-text").textContent = action.confirm(rows) + (skipped ? ` (${plural(skipped, "selected attempt")} it does not apply to ${skipped === 1 ? "is" : "are"} left alone.)` : "");
  $("#bulk-fields").replaceChildren(...(action.form ? [action.form()] : []));
  const confirm = $("#bulk-confirm", HTMLButtonElement);
  confirm.textContent = `${action.label} (${rows.length})`;
  confirm.className = action.danger ? "danger" : "primary";
  showError($("#bulk-error"), "");
  $("#bulk-dialog", HTMLDialogElement).showModal();
}

/** @param {SubmitEvent} event */
async function submitBulk(event) {
  event.preventDefault();
  const dialog = $("#bulk-dialog", HTMLDialogElement);
  if (!pending) return dialog.close();
  const { action, rows, ctx, table } = pending;
  const button = $("#bulk-confirm", HTMLButtonElement);
  button.disabled = true;
  try {
    const line = await action.run(rows, ctx, new FormData($("#bulk-form", HTMLFormElement)));
    dialog.close();
    pending = null;
    table.clearSelection();
    ctx.feed(line, "action");
  } catch (error) {
    showError($("#bulk-error"), error.message);
  } finally {
    button.disabled = false;
  }
}

$("#bulk-form").addEventListener("submit", submitBulk);
