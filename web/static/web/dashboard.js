// @ts-check
// The proctor dashboard's hook points: feature modules (time control, announcements, the audit
// log, ...) register here what they add, and proctor.js (the one entry point, which imports
// them) builds the page from it. Registering is all a module does at import time.
//
//   dashboard.addColumn({key, label, cell(row) => string | Node, sort?(a, b), width?})
//   dashboard.addRowAction({key, label, applies(row), run(row, ctx), danger?})
//   dashboard.addBulkAction({key, label, applies(row), confirm(rows) => text, run(rows, ctx), danger?, form?})
//   dashboard.addToolbarAction({key, label, run(ctx), visible?(ctx), danger?})
//   dashboard.addPanel({key, title, mount(container, ctx), order?})
//   dashboard.on("exam" | "frame" | "rows", handler)
//
// A row action or bulk action shows only where `applies(row)` holds (no dead buttons); a bulk
// action's confirmation, with the count of rows it applies to, is the dashboard's.

/** @typedef {import("./contract.js").AttemptRow} AttemptRow */
/** @typedef {import("./contract.js").ProctorExam} ProctorExam */

/**
 * What a feature module may use while an exam is watched.
 * @typedef {object} DashboardContext
 * @property {number} examId the watched exam
 * @property {ProctorExam | undefined} exam its listing (title, policy), if the picker had it
 * @property {import("./api.js").Session} session REST calls as the signed-in proctor
 * @property {{now(): number}} clock the server's clock (epoch ms)
 * @property {Map<number, AttemptRow>} rows the table's rows by attempt id (read only)
 * @property {(row: AttemptRow) => void} upsert put a changed row in the table (a REST reply's row)
 * @property {(message: Record<string, any>, restPath?: string, restBody?: object) => Promise<any>} send
 *   a socket action with a `request_id`, resolved by its `ack` (rejected by its `error`); over REST when the socket is down and `restPath` is given
 * @property {(text: string, kind?: string) => void} feed a line in the live events panel (`kind`: `action`, `info`, `error` or an event type)
 * @property {(panelKey: string, count: number | null) => void} badge a number on a panel's tab (null: none)
 * @property {Map<number, number>} offlineSeen when this page saw each offline student go (server ms)
 * @property {(filter: string) => void} showOnly set the table's "Show" filter (a value of #filter-status)
 * @property {(attemptId: number) => void} reveal scroll an attempt's row into view
 * @property {(attemptIds: number[]) => void} select make these attempts the selection
 * @property {(notStarted: number | null) => void} setNotStarted the summary bar's "not started" (enrolled without an attempt; null: unknown)
 */

/**
 * @typedef {object} Column
 * @property {string} key unique; also the `data-col` of its cells
 * @property {string} label the header, and the label of its cells on narrow screens
 * @property {(row: AttemptRow, now: number) => string | Node} cell
 * @property {(a: AttemptRow, b: AttemptRow) => number} [sort] makes the header a sort button
 * @property {boolean} [ticks] redraw every second (a time that counts)
 */

/**
 * @typedef {object} RowAction
 * @property {string} key
 * @property {string | ((row: AttemptRow) => string)} label
 * @property {(row: AttemptRow) => boolean} applies shown only on rows where this holds
 * @property {(row: AttemptRow, ctx: DashboardContext) => void} run
 * @property {(row: AttemptRow) => string} [ariaLabel] default: the label and the student's name
 * @property {boolean} [danger]
 */

/**
 * @typedef {object} BulkAction
 * @property {string} key
 * @property {string} label the button in the selection bar
 * @property {(row: AttemptRow) => boolean} applies the selected rows it acts on
 * @property {(rows: AttemptRow[]) => string} confirm the confirmation's text (the dashboard adds the count)
 * @property {(rows: AttemptRow[], ctx: DashboardContext, form: FormData) => Promise<string>} run resolves with a line for the feed
 * @property {() => Node} [form] extra inputs of the confirmation (read from `form` by their `name`)
 * @property {boolean} [danger]
 */

/**
 * @typedef {object} ToolbarAction
 * @property {string} key
 * @property {string} label
 * @property {(ctx: DashboardContext) => void} run
 * @property {(ctx: DashboardContext) => boolean} [visible]
 * @property {boolean} [danger]
 */

/**
 * @typedef {object} Panel
 * @property {string} key
 * @property {string} title its tab
 * @property {(container: HTMLElement, ctx: DashboardContext) => void} mount called for each watched exam, on an empty container
 * @property {number} [order] lower first (alerts 10, events 20)
 */

/**
 * `frame`'s `before`: the row the frame's `attempt` replaced, if any.
 * A student of the roster (enrolled.js): enrolled, no attempt yet.
 * @typedef {{student: string, user_id: number, state: string}} NotStartedStudent
 * @typedef {{exam: (ctx: DashboardContext | null) => void, frame: (frame: any, ctx: DashboardContext, before?: AttemptRow) => void, rows: (ctx: DashboardContext) => void, notStarted: (ctx: DashboardContext, students: NotStartedStudent[]) => void, messageStudent: (ctx: DashboardContext, student: NotStartedStudent) => void}} Events
 */

export class Dashboard {
  /** @type {Column[]} */
  columns = [];
  /** @type {RowAction[]} */
  rowActions = [];
  /** @type {BulkAction[]} */
  bulkActions = [];
  /** @type {ToolbarAction[]} */
  toolbarActions = [];
  /** @type {Panel[]} */
  panels = [];
  /** @type {{[K in keyof Events]: Events[K][]}} */
  listeners = { exam: [], frame: [], rows: [], notStarted: [], messageStudent: [] };

  /** @param {Column} column @returns {void} */
  addColumn(column) {
    this.columns.push(unique(this.columns, column));
  }

  /** @param {RowAction} action @returns {void} */
  addRowAction(action) {
    this.rowActions.push(unique(this.rowActions, action));
  }

  /** @param {BulkAction} action @returns {void} */
  addBulkAction(action) {
    this.bulkActions.push(unique(this.bulkActions, action));
  }

  /** @param {ToolbarAction} action @returns {void} */
  addToolbarAction(action) {
    this.toolbarActions.push(unique(this.toolbarActions, action));
  }

  /** @param {Panel} panel @returns {void} */
  addPanel(panel) {
    this.panels.push(unique(this.panels, panel));
    this.panels.sort((a, b) => (a.order ?? 50) - (b.order ?? 50));
  }

  /**
   * `exam`: an exam is watched (its context) or none (null); `frame`: every proctor socket
   * frame, after the table took what it holds; `rows`: the table's rows changed; `notStarted`:
   * the enrolled students without an attempt, as last loaded; `messageStudent`: write to one of them.
   * @template {keyof Events} K
   * @param {K} event
   * @param {Events[K]} handler
   * @returns {void}
   */
  on(event, handler) {
    this.listeners[event].push(handler);
  }

  /**
   * @template {keyof Events} K
   * @param {K} event
   * @param {Parameters<Events[K]>} args
   * @returns {void}
   */
  emit(event, ...args) {
    for (const handler of this.listeners[event]) {
      try {
        /** @type {(...a: any[]) => void} */ (handler)(...args);
      } catch (error) {
        console.error(`A dashboard module's ${event} handler failed`, error);
      }
    }
  }
}

/**
 * @template {{key: string}} T
 * @param {T[]} list
 * @param {T} item
 * @returns {T}
 */
function unique(list, item) {
  if (list.some((other) => other.key === item.key)) throw new Error(`Registered twice: ${item.key}`);
  return item;
}

/** The page's one dashboard. */
export const dashboard = new Dashboard();
