// @ts-check
// The proctor's table of attempts, virtualized: all rows are sorted and filtered in memory, but
// only the rows in view (and a few around them) are in the document, recycled as the table
// scrolls, so 1,000 attempts cost what 40 do. Rows in view are updated in place (focus and open
// dialogs survive an update); one render per animation frame, however many events arrived.

import { parseTime } from "./clock.js";
import { BUILT_IN } from "./columns.js";
import { el } from "./dom.js";
import { highlight, matchesStatus, unfinished } from "./row-state.js";

/** @typedef {import("./contract.js").AttemptRow} AttemptRow */
/** @typedef {import("./dashboard.js").Column} Column */
/** @typedef {import("./dashboard.js").RowAction} RowAction */
/** @typedef {{key: string, direction: number}} Order  a column's key, and 1 or -1 */
/**
 * A row's elements, reused for whichever attempt scrolls into its place.
 * @typedef {{tr: HTMLTableRowElement, select: HTMLInputElement, student: HTMLElement, cells: HTMLElement[], actions: HTMLElement, row: AttemptRow | null, now: number}} RowNode
 */
/**
 * @typedef {object} TableOptions
 * @property {{now(): number}} clock the server's clock
 * @property {HTMLElement} scroller the element that scrolls (the table's header sticks to its top)
 * @property {HTMLTableElement} table with an empty thead and tbody
 * @property {Column[]} columns feature modules' columns, after the built-in ones
 * @property {RowAction[]} rowActions
 * @property {(action: RowAction, row: AttemptRow) => void} onAction
 * @property {() => {text: string, status: string}} filter the filter's current choice
 * @property {(selected: Set<number>) => void} onSelection
 * @property {(resorted: boolean) => void} onRender after each render (the summary bar, the empty message); `resorted`: rows, filter or order changed, not only the scroll position
 * @property {Order} [order] updated in place
 */

const OVERSCAN = 8;
const DEFAULT_ROW_PX = 44;

export class AttemptsTable {
  /** @type {Map<number, AttemptRow>} attempt id -> its row */
  rows = new Map();
  /** @type {Set<number>} the selected attempts */
  selected = new Set();
  /** @type {Map<number, number>} when this page saw each offline student go (server ms) */
  offlineSeen = new Map();
  /** @type {number[]} the sorted, filtered attempt ids */
  view = [];
  /** @type {Map<number, RowNode>} the rows in the document, by attempt id */
  #visible = new Map();
  /** @type {RowNode[]} */
  #pool = [];
  #dirty = true;
  #frame = 0;
  #rowPx = DEFAULT_ROW_PX;
  /** Whether #rowPx and #bodyTop were measured since the last resize. */
  #measured = false;
  /** Where the rows begin in the scroller's content (below the header), px. */
  #bodyTop = 0;
  #top = el("tr", { class: "spacer", "aria-hidden": "true" });
  #bottom = el("tr", { class: "spacer", "aria-hidden": "true" });
  #selectAll = el("input", { type: "checkbox", "aria-label": "Select all shown" });
  /** @type {Column[]} */
  columns;
  #remainingAt = 0;

  /** @param {TableOptions} options */
  constructor(options) {
    this.options = options;
    this.clock = options.clock;
    this.order = options.order || { key: "student", direction: 1 };
    this.columns = [...BUILT_IN, ...options.columns];
    this.#remainingAt = this.columns.findIndex((c) => c.key === "remaining");
    this.body = options.table.tBodies[0];
    this.#buildHead();
    this.body.replaceChildren(this.#top, this.#bottom);
    options.scroller.addEventListener("scroll", () => this.schedule(false), { passive: true });
    // A new width can change the row height (cards on a narrow screen) and the header's: measure again.
    new ResizeObserver(() => {
      this.#measured = false;
      this.schedule(false);
    }).observe(options.scroller);
    this.#selectAll.addEventListener("change", () => {
      for (const id of this.view) {
        if (this.#selectAll.checked) this.selected.add(id);
        else this.selected.delete(id);
      }
      this.#selectionChanged();
    });
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
      this.selected.delete(id);
      this.offlineSeen.delete(id);
    }
    for (const row of attempts) this.upsert(row);
    this.#selectionChanged();
  }

  /**
   * Add or update one row; returns the row it replaced, if any. Rendered on the next frame.
   * @param {AttemptRow} row
   * @returns {AttemptRow | undefined}
   */
  upsert(row) {
    const before = this.rows.get(row.attempt_id);
    this.rows.set(row.attempt_id, row);
    const offline = unfinished(row) && !row.connected;
    if (!offline) this.offlineSeen.delete(row.attempt_id);
    else if (!this.offlineSeen.has(row.attempt_id)) this.offlineSeen.set(row.attempt_id, this.clock.now());
    this.schedule(true);
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
    this.schedule(true);
  }

  /**
   * Render on the next animation frame; `resort` when rows, the filter or the order changed.
   * @param {boolean} [resort]
   * @returns {void}
   */
  schedule(resort = true) {
    if (resort) this.#dirty = true;
    if (!this.#frame) this.#frame = requestAnimationFrame(() => this.render());
  }

  /**
   * Sort and filter (when something changed) and draw the rows in view, now.
   * @returns {void}
   */
  render() {
    if (this.#frame) cancelAnimationFrame(this.#frame);
    this.#frame = 0;
    const now = this.clock.now();
    const resorted = this.#dirty;
    if (resorted) this.#sortAndFilter(now);
    this.#dirty = false;
    this.#drawWindow(now);
    // The rows drawn tell the real row height (cards on a narrow screen are taller): the
    // first two in the document, whatever order they were drawn in. Measured once, and again
    // after a resize: a measure right after drawing forces a layout, which every frame of a
    // scroll paid (4 s of an 8 s fling in Chrome's profiler).
    const [, first, second] = this.body.children;
    if (!this.#measured && first && second && second !== this.#bottom) {
      this.#measured = true;
      this.#bodyTop = this.options.scroller.scrollTop - this.#bodyOffset();
      const px = second.getBoundingClientRect().top - first.getBoundingClientRect().top;
      if (px > 0 && Math.abs(px - this.#rowPx) > 0.5) {
        // Keep the same row at the top of the view through the change of scale.
        const { scroller } = this.options;
        const top = scroller.scrollTop;
        const old = this.#rowPx;
        this.#rowPx = px;
        this.#drawWindow(now);
        scroller.scrollTop = top * (px / old);
        this.#drawWindow(now);
      }
    }
    if (resorted) {
      this.options.table.setAttribute("aria-rowcount", String(this.view.length + 1));
      this.#syncSelectAll();
    }
    this.options.onRender(resorted);
  }

  /**
   * Redraw what counts with time (time left, last answer, highlights) in the rows in view.
   * @returns {void}
   */
  tick() {
    const now = this.clock.now();
    for (const node of this.#visible.values()) this.#fill(node, now, true);
  }

  /**
   * The deadlines of the ongoing attempts in view (server ms): when their time left changes.
   * @returns {number[]}
   */
  visibleDeadlines() {
    const deadlines = [];
    for (const node of this.#visible.values()) if (node.row && node.row.status === "ongoing") deadlines.push(parseTime(node.row.deadline));
    return deadlines;
  }

  /**
   * The row of an attempt in view, as drawn (for tests and focus), or null.
   * @param {number} id
   * @returns {HTMLTableRowElement | null}
   */
  rowElement(id) {
    return this.#visible.get(id)?.tr ?? null;
  }

  /**
   * Bring an attempt's row into view (e.g. from an alert).
   * @param {number} id
   * @returns {void}
   */
  reveal(id) {
    const index = this.view.indexOf(id);
    if (index < 0) return;
    const { scroller } = this.options;
    scroller.scrollTop = Math.max(0, index * this.#rowPx - scroller.clientHeight / 3);
    this.render();
    this.rowElement(id)?.querySelector("input")?.focus();
  }

  /** @returns {void} */
  clearSelection() {
    this.select([]);
  }

  /**
   * Make these attempts (those in the table) the selection.
   * @param {number[]} attemptIds
   * @returns {void}
   */
  select(attemptIds) {
    this.selected.clear();
    for (const id of attemptIds) if (this.rows.has(id)) this.selected.add(id);
    this.#selectionChanged();
  }

  // --- Inside ------------------------------------------------------------------------------

  #buildHead() {
    const head = this.options.table.tHead;
    if (!head) throw new Error("The attempts table needs a thead");
    const sortable = (/** @type {string} */ key, /** @type {string} */ label) =>
      el("th", { scope: "col", dataset: { sort: key } }, el("button", { type: "button", onclick: () => this.sortBy(key) }, label));
    head.replaceChildren(el("tr", { "aria-rowindex": "1" },
      el("th", { scope: "col", class: "select-col" }, this.#selectAll),
      sortable("student", "Student"),
      this.columns.map((c) => (c.sort ? sortable(c.key, c.label) : el("th", { scope: "col" }, c.label))),
      el("th", { scope: "col" }, "Actions"),
    ));
  }

  /** @param {number} now */
  #sortAndFilter(now) {
    const { text: rawText, status } = this.options.filter();
    const text = rawText.trim().toLowerCase();
    const column = this.columns.find((c) => c.key === this.order.key);
    /** @type {(a: AttemptRow, b: AttemptRow) => number} */
    const sort = column?.sort || ((a, b) => a.student.localeCompare(b.student));
    const rows = [];
    for (const row of this.rows.values()) {
      if (text && !row.student.toLowerCase().includes(text)) continue;
      if (!matchesStatus(row, status, this.offlineSeen, now)) continue;
      rows.push(row);
    }
    rows.sort((a, b) => this.order.direction * sort(a, b) || a.attempt_id - b.attempt_id);
    this.view = rows.map((r) => r.attempt_id);
    for (const th of this.options.table.querySelectorAll("th[data-sort]")) {
      const sorted = th instanceof HTMLElement && th.dataset.sort === this.order.key;
      th.setAttribute("aria-sort", sorted ? (this.order.direction > 0 ? "ascending" : "descending") : "none");
    }
  }

  /** @param {number} now */
  #drawWindow(now) {
    const { scroller } = this.options;
    // From the scroll position and the measured offset, not from two rectangles: reading those
    // after this frame's writes (row events, the clock) would force a layout.
    const into = this.#measured ? scroller.scrollTop - this.#bodyTop : this.#bodyOffset();
    const first = Math.max(0, Math.floor(Math.max(0, into) / this.#rowPx) - OVERSCAN);
    const count = Math.ceil(scroller.clientHeight / this.#rowPx) + 2 * OVERSCAN;
    const ids = this.view.slice(first, first + count);
    const keep = new Set(ids);
    for (const [id, node] of this.#visible) {
      if (keep.has(id)) continue;
      this.#visible.delete(id);
      node.tr.remove();
      node.row = null;
      this.#pool.push(node);
    }
    const trs = ids.map((id, i) => {
      let node = this.#visible.get(id);
      if (!node) {
        node = this.#pool.pop() || this.#newNode();
        this.#visible.set(id, node);
      }
      node.tr.setAttribute("aria-rowindex", String(first + i + 2));
      this.#fill(node, now, false, /** @type {AttemptRow} */ (this.rows.get(id)));
      return node.tr;
    });
    this.#top.style.height = `${first * this.#rowPx}px`;
    this.#bottom.style.height = `${Math.max(0, this.view.length - first - ids.length) * this.#rowPx}px`;
    // Insert the rows new in view where they go, and move a kept row only when the order changed
    // (moving a row takes the focus off its buttons): a scroll inserts a few rows, it does not
    // re-insert the forty in view.
    let cursor = this.#top.nextSibling;
    for (const tr of trs) {
      if (cursor === tr) cursor = tr.nextSibling;
      else this.body.insertBefore(tr, cursor);
    }
  }

  /** How far the scroller's view is into the rows, measured (a layout if one is due). */
  #bodyOffset() {
    const { scroller } = this.options;
    return scroller.getBoundingClientRect().top - this.body.getBoundingClientRect().top;
  }

  /** @returns {RowNode} */
  #newNode() {
    const select = el("input", { type: "checkbox" });
    const student = el("th", { scope: "row", dataset: { label: "Student" } });
    const cells = this.columns.map((c) => el("td", { dataset: { label: c.label, col: c.key } }));
    const actions = el("td", { dataset: { label: "Actions", col: "actions" } });
    const tr = el("tr", {}, el("td", { class: "select-col" }, select), student, cells, actions);
    /** @type {RowNode} */
    const node = { tr, select, student, cells, actions, row: null, now: 0 };
    select.addEventListener("change", () => {
      if (!node.row) return;
      if (select.checked) this.selected.add(node.row.attempt_id);
      else this.selected.delete(node.row.attempt_id);
      this.#selectionChanged();
    });
    return node;
  }

  /**
   * Draw `row` into `node` (only what changed), or, with `timesOnly`, what counts with time.
   * @param {RowNode} node
   * @param {number} now
   * @param {boolean} timesOnly
   * @param {AttemptRow | null} [row]
   */
  #fill(node, now, timesOnly, row = node.row) {
    if (!row) return;
    const changed = node.row !== row;
    if (timesOnly || changed) {
      this.columns.forEach((column, i) => {
        if (changed || column.ticks) setContent(node.cells[i], column.cell(row, now));
      });
      const mark = highlight(row, this.offlineSeen, now);
      if (node.tr.dataset.alert !== mark) node.tr.dataset.alert = mark;
      const left = node.cells[this.#remainingAt];
      const secondsLeft = row.status === "ongoing" ? (parseTime(row.deadline) - now) / 1000 : Infinity;
      left.dataset.level = secondsLeft <= 60 ? "danger" : secondsLeft <= 300 ? "warn" : "";
    }
    const selected = this.selected.has(row.attempt_id);
    if (node.select.checked !== selected) node.select.checked = selected;
    if (!changed) return;
    node.row = row;
    node.tr.dataset.attemptId = String(row.attempt_id);
    node.tr.dataset.status = row.status;
    node.student.textContent = row.student;
    node.select.setAttribute("aria-label", `Select ${row.student}`);
    const buttons = this.options.rowActions.filter((a) => a.applies(row)).map((action) => {
      const label = typeof action.label === "function" ? action.label(row) : action.label;
      return el("button", {
        type: "button",
        class: action.danger ? "small danger" : "small",
        "aria-label": action.ariaLabel ? action.ariaLabel(row) : `${label} ${row.student}`,
        onclick: () => node.row && this.options.onAction(action, node.row),
      }, label);
    });
    // A finished attempt has nothing left to do: no buttons at all, rather than disabled ones.
    node.actions.replaceChildren(buttons.length ? el("span", { class: "row-actions" }, buttons) : el("span", { class: "muted" }, "—"));
  }

  #selectionChanged() {
    for (const node of this.#visible.values()) if (node.row) node.select.checked = this.selected.has(node.row.attempt_id);
    this.#syncSelectAll();
    this.options.onSelection(this.selected);
  }

  #syncSelectAll() {
    const chosen = this.view.filter((id) => this.selected.has(id)).length;
    this.#selectAll.checked = chosen > 0 && chosen === this.view.length;
    this.#selectAll.indeterminate = chosen > 0 && chosen < this.view.length;
  }
}

/**
 * @param {HTMLElement} cell
 * @param {string | Node} content
 */
function setContent(cell, content) {
  if (typeof content === "string") {
    if (cell.textContent !== content || cell.firstElementChild) cell.textContent = content;
  } else cell.replaceChildren(content);
}
