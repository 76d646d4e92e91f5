// @ts-check
// The proctor's incidents panel: record one against a student's attempt or the whole exam
// (category, note, optional time granted through the extension rule), and the list of them.
// Part of proctor-room.js.

import { describeSeconds, el, showError, timeOfDay } from "./dom.js";
import { fillStudents } from "./announcements.js";

/** @typedef {import("./proctor-room.js").ProctorRoomHooks} ProctorRoomHooks */
/** @typedef {import("./room-state.js").ProctorRoomState} ProctorRoomState */

const CATEGORIES = [
  ["technical", "Technical (device, network, platform)"],
  ["environment", "Environment (fire alarm, noise, power)"],
  ["examinee", "Examinee (illness, bathroom, late arrival)"],
  ["staff", "Staff (proctor or invigilator action)"],
  ["other", "Other"],
];

export class IncidentsPanel {
  /**
   * @param {ProctorRoomHooks} hooks
   * @param {ProctorRoomState} state
   * @param {() => void} changed
   */
  constructor(hooks, state, changed) {
    this.hooks = hooks;
    this.state = state;
    this.changed = changed;
    this.category = el("select", { id: "incident-category" }, ...CATEGORIES.map(([v, label]) => el("option", { value: v }, label)));
    this.target = el("select", { id: "incident-target" });
    this.note = el("textarea", { id: "incident-note", rows: 2, maxlength: 1000, required: true });
    this.minutes = el("input", { id: "incident-minutes", type: "number", min: "0", max: "1440", step: "1", value: "0" });
    this.error = el("p", { class: "form-error", role: "alert", hidden: true });
    this.button = el("button", { type: "submit" }, "Record incident");
    this.list = el("ol", { id: "incident-list", class: "room-list" });
    this.root = el("section", { class: "room-panel", "aria-labelledby": "incidents-title" },
      el("h2", { id: "incidents-title" }, "Incidents"),
      el("form", { id: "incident-form", onsubmit: (/** @type {SubmitEvent} */ e) => this.record(e) },
        el("div", { class: "field" }, el("label", { for: "incident-category" }, "Category"), this.category),
        el("div", { class: "field" }, el("label", { for: "incident-target" }, "Against"), this.target),
        el("label", { for: "incident-note" }, "Note"), this.note,
        el("div", { class: "field" }, el("label", { for: "incident-minutes" }, "Minutes granted (0: none)"), this.minutes),
        this.error, el("div", { class: "dialog-actions" }, this.button)),
      this.list);
  }

  render() {
    fillStudents(this.target, this.hooks.rows().filter((r) => r.status === "ongoing" || this.target.value === String(r.attempt_id)), "The whole exam");
    this.list.replaceChildren(...this.state.incidentList.map((i) => el("li", { dataset: { id: String(i.id), category: i.category } },
      el("p", { class: "room-meta" }, `${timeOfDay(this.hooks.parseTime(i.recorded_at))} · ${i.category} · ${i.student || "whole exam"} · ${i.by || ""}`),
      el("p", {}, i.note),
      i.granted_seconds ? el("p", { class: "small" }, `Granted ${describeSeconds(i.granted_seconds)}`) : null)));
  }

  /** @param {SubmitEvent} event */
  async record(event) {
    event.preventDefault();
    const minutes = Number(this.minutes.value || 0);
    if (!Number.isInteger(minutes) || minutes < 0 || minutes > 1440) return showError(this.error, "Minutes: a whole number from 0 to 1440.");
    if (!this.note.value.trim()) return showError(this.error, "Write a note.");
    const attemptId = Number(this.target.value) || undefined;
    const body = {
      category: this.category.value,
      note: this.note.value,
      ...(attemptId ? { attempt_id: attemptId } : {}),
      ...(minutes ? { granted_seconds: minutes * 60 } : {}),
    };
    this.button.disabled = true;
    showError(this.error, "");
    try {
      /** @type {import("./contract.js").IncidentRecord} */
      const incident = await this.hooks.session.post(`/api/proctor/exams/${this.hooks.examId}/incidents/`, body);
      this.state.incidents.set(incident.id, incident);
      this.note.value = "";
      this.minutes.value = "0";
      this.hooks.feed(`You recorded a ${incident.category} incident${incident.student ? ` for ${incident.student}` : ""}.`, "action");
      this.changed();
    } catch (error) {
      showError(this.error, error.message);
    } finally {
      this.button.disabled = false;
    }
  }
}
