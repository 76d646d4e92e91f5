// @ts-check
// The "Live events" panel: what happened, newest first, with like events about many students
// within 30 s on one line that counts them ("12 students disconnected") instead of 12 lines;
// under them, what happened before the page opened (the exam's recent event log).

import { dashboard } from "./dashboard.js";
import { parseTime } from "./clock.js";
import { describeSeconds, el, timeOfDay } from "./dom.js";
import { EventGroups } from "./event-groups.js";

/** @typedef {import("./contract.js").AttemptRow} AttemptRow */
/** @typedef {import("./dashboard.js").DashboardContext} DashboardContext */

const FEED_LIMIT = 200;
/** Events about many students that group; any other line stands alone. */
const GROUPED = {
  attempt_started: ["started the exam", "students started the exam"],
  answer_saved: ["saved an answer", "students saved answers"],
  attempt_submitted: ["submitted", "students submitted"],
  attempt_timeout: ["ran out of time", "students ran out of time"],
  attempt_overdue: ["ran out of time and must hand in", "students ran out of time and must hand in"],
  student_connected: ["connected", "students connected"],
  student_disconnected: ["disconnected", "students disconnected"],
};

/** The open feed (one per watched exam). */
class Feed {
  groups = new EventGroups();
  /** @type {Map<number, HTMLLIElement>} group id -> its line */
  lines = new Map();

  /**
   * @param {HTMLOListElement} list
   * @param {DashboardContext} ctx
   */
  constructor(list, ctx) {
    this.list = list;
    this.ctx = ctx;
  }

  /**
   * A line of its own.
   * @param {string} text
   * @param {string} kind
   * @param {number} [at]
   */
  add(text, kind, at = this.ctx.clock.now()) {
    this.#put(el("li", { dataset: { kind } }, el("time", {}, timeOfDay(at)), " ", text));
  }

  /**
   * An event about one attempt.
   * @param {string} type
   * @param {AttemptRow} row the row after the event
   * @param {AttemptRow | undefined} before
   */
  event(type, row, before) {
    const now = this.ctx.clock.now();
    const words = GROUPED[/** @type {keyof typeof GROUPED} */ (type)];
    if (!words) {
      const text = describeOne(type, row, before);
      if (text) this.add(text, type, now);
      return;
    }
    const { group } = this.groups.add(type, row.attempt_id, row.student, now);
    const n = group.students.size;
    let text;
    if (n === 1) {
      text = type === "answer_saved" ? `${row.student} saved an answer (${row.answered} of ${row.total_questions}).`
        : type === "attempt_submitted" || type === "attempt_timeout" ? `${row.student} ${words[0]}, score ${row.score ?? 0} / ${row.max_score ?? 0}.`
          : `${row.student} ${words[0]}.`;
    } else {
      const names = [...group.students.values()];
      const shown = names.slice(-3).reverse().join(", ");
      text = `${n} ${words[1]} (${shown}${n > 3 ? ` and ${n - 3} more` : ""}).`;
    }
    const line = el("li", { dataset: { kind: type, count: String(n) } }, el("time", {}, timeOfDay(group.first)), " ", text);
    this.lines.get(group.id)?.remove();
    this.lines.set(group.id, line);
    this.#put(line);
  }

  /** @param {HTMLLIElement} line */
  #put(line) {
    this.list.prepend(line);
    while (this.list.children.length > FEED_LIMIT) this.list.lastElementChild?.remove();
    if (this.lines.size > FEED_LIMIT) for (const [id, li] of this.lines) if (!li.isConnected) this.lines.delete(id);
  }
}

/**
 * The feed's line for an event that does not group (null for none).
 * @param {string} type
 * @param {AttemptRow} row
 * @param {AttemptRow | undefined} before
 * @returns {string | null}
 */
function describeOne(type, row, before) {
  if (type === "attempt_extended") {
    const added = before ? row.extra_seconds - before.extra_seconds : 0;
    return added > 0 ? `${row.student} got ${describeSeconds(added)} more.` : `${row.student}'s time was extended.`;
  }
  return null;
}

/** The history's words for an attempt's logged event kinds (others are shown by their kind). */
const HISTORY_WORDS = {
  started: "started the exam", resumed: "reopened the exam", answer_saved: "saved an answer", extended: "got more time",
  submitted: "submitted", force_submitted: "was force-submitted", timed_out: "ran out of time",
  overdue: "ran out of time and must hand in", connected: "connected", disconnected: "disconnected",
};

/**
 * What happened before the page opened (GET .../events/), under the live lines.
 * @param {Feed} into
 * @param {DashboardContext} ctx
 */
async function loadHistory(into, ctx) {
  /** @type {{events: {at: string, kind: string, attempt_id: number, student: string}[]}} */
  let history;
  try {
    history = await ctx.session.get(`/api/proctor/exams/${ctx.examId}/events/`);
  } catch (error) {
    into.list.append(el("li", { dataset: { kind: "error" } }, `Could not load the earlier events: ${error.message}`));
    return;
  }
  if (feed !== into) return;
  const lines = history.events.map((e) => {
    const words = HISTORY_WORDS[/** @type {keyof typeof HISTORY_WORDS} */ (e.kind)] || e.kind.replace(/_/g, " ");
    return el("li", { dataset: { kind: "history" } }, el("time", {}, timeOfDay(parseTime(e.at))), ` ${e.student} ${words}.`);
  }).reverse();
  into.list.append(el("li", { class: "history-mark", dataset: { kind: "info" } },
    history.events.length ? "Earlier (before this page opened):" : "Nothing happened before this page opened."), ...lines);
}

/** @type {Feed | null} */
let feed = null;

/**
 * A line in the open feed (the dashboard's context `feed`).
 * @param {string} text
 * @param {string} [kind]
 * @returns {void}
 */
export function addFeed(text, kind = "info") {
  feed?.add(text, kind);
}

dashboard.addPanel({
  key: "events",
  title: "Live events",
  order: 20,
  mount(container, ctx) {
    const list = el("ol", { id: "feed", role: "log", class: "feed-list" });
    container.append(list);
    feed = new Feed(list, ctx);
    loadHistory(feed, ctx);
  },
});
dashboard.on("exam", (ctx) => {
  if (!ctx) feed = null;
});
dashboard.on("frame", (frame, _ctx, before) => {
  if (frame.attempt) feed?.event(frame.type, frame.attempt, before);
});
