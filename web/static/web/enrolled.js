// @ts-check
// Enrolled students who have not started (syncstart's roster): the summary bar's "Not started"
// and a side panel listing them, those in the waiting room first. An exam without enrollments
// is open to every student, so nobody is "not started" and the count stays unknown (–).

import { dashboard } from "./dashboard.js";
import { el, plural } from "./dom.js";

/** @typedef {import("./dashboard.js").DashboardContext} DashboardContext */
/** @typedef {{student: string, user_id: number, enrolled_at: string, state: string}} RosterRow */
/** @typedef {{exam_id: number, enrolled: number, not_started: number, students: RosterRow[]}} Roster */

const REFRESH_MS = 30_000;

class NotStarted {
  /** @type {Roster | null} */
  roster = null;

  /**
   * @param {HTMLElement} container
   * @param {DashboardContext} ctx
   */
  constructor(container, ctx) {
    this.ctx = ctx;
    this.note = el("p", { class: "muted small" }, "Loading the enrolled students…");
    this.list = el("ul", { id: "not-started", class: "feed-list" });
    container.append(this.note, this.list);
    this.timer = setInterval(() => this.load(), REFRESH_MS);
    this.load();
  }

  async load() {
    try {
      this.roster = await this.ctx.session.get(`/api/proctor/exams/${this.ctx.examId}/enrollments/`);
    } catch (error) {
      this.note.textContent = `Could not load the enrolled students: ${error.message}`;
      return;
    }
    this.render();
  }

  /** Those of the roster with no attempt: the roster as loaded, less anyone whose attempt has since appeared. */
  render() {
    if (!this.roster) return;
    if (!this.roster.enrolled) {
      this.note.textContent = "Nobody is enrolled: the exam is open to every student.";
      this.list.replaceChildren();
      this.ctx.setNotStarted(null);
      this.ctx.badge("not-started", null);
      return;
    }
    const started = new Set([...this.ctx.rows.values()].map((r) => r.student));
    const waiting = this.roster.students.filter((s) => (s.state === "not_started" || s.state === "waiting") && !started.has(s.student));
    waiting.sort((a, b) => Number(b.state === "waiting") - Number(a.state === "waiting") || a.student.localeCompare(b.student));
    this.note.textContent = `${plural(waiting.length, "enrolled student")} of ${this.roster.enrolled} not started.`;
    this.list.replaceChildren(...waiting.map((s) =>
      el("li", { dataset: { state: s.state } }, s.student, s.state === "waiting" ? el("span", { class: "muted" }, " · in the waiting room") : null,
        " ", el("button", { type: "button", class: "link", "aria-label": `Send ${s.student} an announcement`, onclick: () => dashboard.emit("messageStudent", this.ctx, s) }, "Message…"))));
    dashboard.emit("notStarted", this.ctx, waiting);
    this.ctx.setNotStarted(waiting.length);
    this.ctx.badge("not-started", waiting.length || null);
  }

  stop() {
    clearInterval(this.timer);
  }
}

/** @type {NotStarted | null} */
let panel = null;

dashboard.addPanel({
  key: "not-started",
  title: "Not started",
  order: 30,
  mount(container, ctx) {
    panel?.stop();
    panel = new NotStarted(container, ctx);
  },
});
dashboard.on("exam", (ctx) => {
  if (ctx) return;
  panel?.stop();
  panel = null;
});
// A synchronized start brings hundreds of `attempt_started` at once: redraw once for them.
let pending = 0;
dashboard.on("frame", (frame) => {
  if (frame.type !== "attempt_started" && frame.type !== "snapshot") return;
  if (!pending) pending = setTimeout(() => {
    pending = 0;
    panel?.render();
  }, 250);
});
