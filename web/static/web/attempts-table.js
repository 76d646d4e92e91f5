// @ts-check
// The proctor's table of attempts: one row per attempt, kept up to date in place (so focus
// and open dialogs survive), sorted and filtered, with each time left counting down.

import { parseTime, remainingSeconds } from "./clock.js";
import { $, ago, el, formatDuration, timeOfDay } from "./dom.js";

/** @typedef {import("./contract.js").AttemptRow} AttemptRow */
/** @typedef {{key: string, direction: number}} Order  a column of #sorts, and 1 or -1 */
/**
 * A row's elements.
 * @typedef {{tr: HTMLTableRowElement, cells: Record<string, HTMLElement>, extend: HTMLButtonElement, force: HTMLButtonElement}} RowNode
 */

/** @type {Record<string, string>} */
const STATUS_TEXT = { ongoing: "In progress", completed: "Submitted", timeout: "Timed out" };

export class AttemptsTable {
  /** @type {Map<number, AttemptRow>} attempt id -> its row */
  rows = new Map();
  /** @type {Map<number, RowNode>} */
  #nodes = new Map();
  /** @type {Record<string, (a: AttemptRow, b: AttemptRow) => number>} */
  #sorts;

  /**
   * `onExtend(id)` and `onForce(id)`: the row's action buttons; `order` is updated in place.
   * @param {{now(): number}} clock the server's clock (a ServerClock)
   * @param {{onExtend: (id: number) => void, onForce: (id: number) => void, order?: Order}} options
   */
  constructor(clock, { onExtend, onForce, order = { key: "student", direction: 1 } }) {
    this.clock = clock;
    this.onExtend = onExtend;
    this.onForce = onForce;
    this.order = order;
    this.#sorts = {
      student: (a, b) => a.student.localeCompare(b.student),
      status: (a, b) => (STATUS_TEXT[a.status] || "").localeCompare(STATUS_TEXT[b.status] || ""),
      remaining: (a, b) => (this.secondsLeft(a) ?? Infinity) - (this.secondsLeft(b) ?? Infinity),
      answered: (a, b) => a.answered / (a.total_questions || 1) - b.answered / (b.total_questions || 1),
      connected: (a, b) => Number(isConnected(b)) - Number(isConnected(a)),
      activity: (a, b) => parseTime(b.last_activity) - parseTime(a.last_activity),
    };
  }

  /**
   * Replace every row (a snapshot); rows no longer listed go away.
   * @param {AttemptRow[]} attempts
   * @returns {void}
   */
  setRows(attempts) {
    const ids = new Set(attempts.map((a) => a.attempt_id));
    for (const id of [...this.rows.keys()]) {
      if (ids.has(id)) continue;
      this.rows.delete(id);
      this.#node(id).tr.remove();
      this.#nodes.delete(id);
    }
    attempts.forEach((row) => this.upsert(row));
    this.render();
  }

  /**
   * Add or update one row; returns the row it replaced, if any.
   * @param {AttemptRow} row
   * @returns {AttemptRow | undefined}
   */
  upsert(row) {
    const before = this.rows.get(row.attempt_id);
    this.rows.set(row.attempt_id, row);
    let node = this.#nodes.get(row.attempt_id);
    if (!node) {
      node = this.#rowNode(row.attempt_id);
      this.#nodes.set(row.attempt_id, node);
    }
    this.#fill(node, row);
    return before;
  }

  /**
   * Sort by `key`; the same key again flips the direction (unless `toggle` is false).
   * @param {string} key
   * @param {{toggle?: boolean}} [options]
   * @returns {void}
   */
  sortBy(key, { toggle = true } = {}) {
    this.order.direction = toggle && this.order.key === key ? -this.order.direction : 1;
    this.order.key = key;
    this.render();
  }

  /**
   * Whole seconds left of an ongoing attempt on the server's clock; null once it has ended.
   * @param {AttemptRow} row
   * @returns {number | null}
   */
  secondsLeft(row) {
    if (row.status !== "ongoing") return null;
    return remainingSeconds(parseTime(row.deadline), this.clock.now());
  }

  /** @returns {{total: number, ongoing: number, connected: number}} how many rows, ongoing, and connected among those */
  counts() {
    const all = [...this.rows.values()];
    const ongoing = all.filter((r) => r.status === "ongoing");
    return { total: all.length, ongoing: ongoing.length, connected: ongoing.filter((r) => r.connected).length };
  }

  /**
   * Order, filter and count the rows.
   * @returns {void}
   */
  render() {
    const text = $("#filter-text", HTMLInputElement).value.trim().toLowerCase();
    const status = $("#filter-status", HTMLSelectElement).value;
    const sort = this.#sorts[this.order.key];
    const rows = [...this.rows.values()].sort((a, b) => this.order.direction * sort(a, b) || a.attempt_id - b.attempt_id);
    const trs = rows.map((row) => this.#node(row.attempt_id).tr);
    let shown = 0;
    rows.forEach((row, i) => {
      trs[i].hidden = Boolean((text && !row.student.toLowerCase().includes(text)) || (status && row.status !== status));
      if (!trs[i].hidden) shown++;
    });
    // Move rows only when the order changed: moving a row would take the focus off its buttons.
    const body = $("#attempt-rows");
    if (trs.length !== body.children.length || trs.some((tr, i) => body.children[i] !== tr)) body.append(...trs);

    const empty = $("#no-rows");
    empty.hidden = shown > 0;
    empty.textContent = rows.length ? "No attempts match the filter." : "No attempts yet. They appear here as soon as students start.";
    for (const th of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll("th[data-sort]"))) {
      const sorted = th.dataset.sort === this.order.key;
      th.setAttribute("aria-sort", sorted ? (this.order.direction > 0 ? "ascending" : "descending") : "none");
    }
    $("#sort-select", HTMLSelectElement).value = this.order.key;
    const { total, ongoing, connected } = this.counts();
    $("#summary").textContent = [
      `${total} attempt${total === 1 ? "" : "s"}`,
      `${ongoing} in progress`,
      `${connected} connected`,
      `${total - ongoing} finished`,
    ].join(" · ");
  }

  /**
   * Count every row's time down and age its last activity (called every second).
   * @returns {void}
   */
  tick() {
    for (const [id, row] of this.rows) this.#fillTimes(this.#node(id), row);
  }

  /**
   * The elements of a row that is in the table.
   * @param {number} id
   * @returns {RowNode}
   */
  #node(id) {
    const node = this.#nodes.get(id);
    if (!node) throw new Error(`No row for attempt ${id}`);
    return node;
  }

  /**
   * @param {number} id
   * @returns {RowNode}
   */
  #rowNode(id) {
    const cell = (/** @type {string} */ label) => el("td", { dataset: { label } });
    const cells = {
      student: el("th", { scope: "row", dataset: { label: "Student" } }),
      status: cell("Status"),
      remaining: cell("Time left"),
      answered: cell("Answered"),
      connected: cell("Connection"),
      activity: cell("Last activity"),
      actions: cell("Actions"),
    };
    const extend = el("button", { type: "button", class: "small", onclick: () => this.onExtend(id) }, "Extend…");
    const force = el("button", { type: "button", class: "small danger", onclick: () => this.onForce(id) }, "Force submit");
    cells.actions.append(el("span", { class: "row-actions" }, extend, force));
    return { tr: el("tr", { dataset: { attemptId: id } }, Object.values(cells)), cells, extend, force };
  }

  /**
   * @param {RowNode} node
   * @param {AttemptRow} row
   */
  #fill(node, row) {
    const { cells } = node;
    const ongoing = row.status === "ongoing";
    node.tr.dataset.status = row.status;
    cells.student.textContent = row.student;
    cells.status.replaceChildren(el("span", { class: `badge ${row.status}` }, STATUS_TEXT[row.status] || row.status));
    cells.answered.textContent = `${row.answered} / ${row.total_questions}`;
    cells.connected.replaceChildren(ongoing
      ? el("span", { class: `presence ${row.connected ? "online" : "offline"}` }, row.connected ? "Connected" : "Not connected")
      : el("span", { class: "muted" }, "—"));
    node.extend.disabled = node.force.disabled = !ongoing;
    node.extend.setAttribute("aria-label", `Extend time for ${row.student}`);
    node.force.setAttribute("aria-label", `Force submit ${row.student}`);
    this.#fillTimes(node, row);
  }

  /**
   * @param {RowNode} node
   * @param {AttemptRow} row
   */
  #fillTimes(node, row) {
    const left = this.secondsLeft(row);
    const { remaining, activity } = node.cells;
    if (left === null) {
      remaining.textContent = row.status === "timeout" ? "0:00" : "—";
      remaining.dataset.level = "";
    } else {
      remaining.textContent = left > 0 ? formatDuration(left) : "0:00 (ending…)";
      remaining.dataset.level = left <= 60 ? "danger" : left <= 300 ? "warn" : "";
    }
    const last = parseTime(row.last_activity);
    activity.textContent = ago(this.clock.now() - last);
    activity.title = timeOfDay(last);
  }
}

/** @param {AttemptRow} row */
function isConnected(row) {
  return row.status === "ongoing" && row.connected;
}
