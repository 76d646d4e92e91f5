// @ts-check
// The "Alerts" panel: disconnections grouped (37 within 30 s are one alert that says how many
// are still offline, with their names), and the standing counts of students offline longer
// than the threshold or with no answer saved for long, each a filter of the table.

import { dashboard } from "./dashboard.js";
import { announce, describeSeconds, el, plural, timeOfDay } from "./dom.js";
import { EventGroups, GROUP_WINDOW_MS } from "./event-groups.js";
import { THRESHOLDS, summarize, unfinished } from "./row-state.js";

/** @typedef {import("./dashboard.js").DashboardContext} DashboardContext */
/** @typedef {import("./event-groups.js").EventGroup} EventGroup */

/** Disconnections that make an alert: fewer are left to the highlight of a long absence. */
export const ALERT_MIN_GROUP = 3;

class Alerts {
  groups = new EventGroups();
  /** @type {number[]} ids of groups big enough to be alerts, newest first */
  alerts = [];
  /** @type {Set<number>} alerts the proctor dismissed */
  dismissed = new Set();

  /**
   * @param {HTMLElement} container
   * @param {DashboardContext} ctx
   */
  constructor(container, ctx) {
    this.ctx = ctx;
    this.standing = el("ul", { class: "standing-alerts" });
    this.list = el("ol", { id: "alerts", class: "alert-list" });
    container.append(this.standing, this.list, el("p", { class: "muted small", id: "alerts-empty" }, "No alerts."));
    this.timer = setInterval(() => this.render(), 1000);
  }

  /**
   * @param {number} attemptId
   * @param {string} student
   */
  disconnected(attemptId, student) {
    const { group } = this.groups.add("student_disconnected", attemptId, student, this.ctx.clock.now());
    if (group.students.size === ALERT_MIN_GROUP) {
      this.alerts.unshift(group.id);
      announce(`Alert: ${group.students.size} students disconnected.`);
    }
    this.render();
  }

  render() {
    const { ctx } = this;
    const now = ctx.clock.now();
    const sum = summarize(ctx.rows.values(), ctx.offlineSeen, now);
    const standing = [];
    if (sum.offline) standing.push(this.#standing(`${plural(sum.offline, "student")} offline for more than ${describeSeconds(THRESHOLDS.offlineMs / 1000)}`, "offline"));
    if (sum.idle) standing.push(this.#standing(`${plural(sum.idle, "student")} with no answer saved for ${describeSeconds(THRESHOLDS.idleMs / 1000)}`, "idle"));
    this.standing.replaceChildren(...standing);
    const byId = new Map(this.groups.groups.map((g) => [g.id, g]));
    const items = [];
    for (const id of this.alerts) {
      const group = byId.get(id);
      if (group && !this.dismissed.has(id)) items.push(this.#groupItem(group, now));
    }
    this.list.replaceChildren(...items);
    const empty = document.getElementById("alerts-empty");
    if (empty) empty.hidden = items.length + standing.length > 0;
    ctx.badge("alerts", items.length + standing.length || null);
  }

  /**
   * @param {string} text
   * @param {string} filter
   */
  #standing(text, filter) {
    return el("li", { dataset: { alert: filter } }, text, " ",
      el("button", { type: "button", class: "link", onclick: () => this.ctx.showOnly(filter) }, "Show them"));
  }

  /**
   * @param {EventGroup} group
   * @param {number} now
   */
  #groupItem(group, now) {
    const n = group.students.size;
    const stillOffline = [...group.students.keys()].filter((id) => {
      const row = this.ctx.rows.get(id);
      return row && unfinished(row) && !row.connected;
    }).length;
    const live = now - group.first <= GROUP_WINDOW_MS;
    const when = live ? `in the last ${Math.round(GROUP_WINDOW_MS / 1000)} s` : `within ${Math.round(GROUP_WINDOW_MS / 1000)} s at ${timeOfDay(group.first)}`;
    const names = [...group.students].map(([id, student]) =>
      el("li", {}, el("button", { type: "button", class: "link", onclick: () => this.ctx.reveal(id) }, student)));
    return el("li", { class: "alert", dataset: { kind: group.kind, count: String(n) } },
      el("p", { class: "alert-title" }, `${n} students disconnected ${when}`),
      el("p", { class: "muted small" }, stillOffline ? `${stillOffline} still offline` : "All back online",
        " · ", el("button", { type: "button", class: "link", onclick: () => this.#select(group) }, "Select them"),
        " · ", el("button", { type: "button", class: "link", onclick: () => { this.dismissed.add(group.id); this.render(); } }, "Dismiss")),
      el("details", {}, el("summary", {}, "Who"), el("ul", { class: "alert-names" }, names)),
    );
  }

  /** @param {EventGroup} group */
  #select(group) {
    this.ctx.select([...group.students.keys()]);
  }

  stop() {
    clearInterval(this.timer);
  }
}

/** @type {Alerts | null} */
let alerts = null;

dashboard.addPanel({
  key: "alerts",
  title: "Alerts",
  order: 10,
  mount(container, ctx) {
    alerts?.stop();
    alerts = new Alerts(container, ctx);
    alerts.render();
  },
});
dashboard.on("exam", (ctx) => {
  if (ctx) return;
  alerts?.stop();
  alerts = null;
});
dashboard.on("frame", (frame) => {
  if (!alerts) return;
  if (frame.type === "student_disconnected") alerts.disconnected(frame.attempt.attempt_id, frame.attempt.student);
  else if (frame.type === "student_connected" || frame.type === "snapshot") alerts.render();
});
