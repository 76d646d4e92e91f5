// @ts-check
// The proctor's announcements panel: send one to the whole exam or to one student, and see who
// has acknowledged each (counts and names, live). Part of the exam room (proctor-room.js).

import { el, showError, timeOfDay } from "./dom.js";

/** @typedef {import("./proctor-room.js").ProctorRoomHooks} ProctorRoomHooks */
/** @typedef {import("./room-state.js").ProctorRoomState} ProctorRoomState */

export class AnnouncementsPanel {
  /**
   * @param {ProctorRoomHooks} hooks
   * @param {ProctorRoomState} state
   * @param {() => void} changed call after the state changed
   */
  constructor(hooks, state, changed) {
    this.hooks = hooks;
    this.state = state;
    this.changed = changed;
    this.message = el("textarea", { id: "announce-text", rows: 2, maxlength: 1000, required: true, placeholder: "e.g. Question 3: option C should read 42." });
    this.to = el("select", { id: "announce-to" });
    this.error = el("p", { class: "form-error", role: "alert", hidden: true });
    this.button = el("button", { type: "submit", class: "primary" }, "Send announcement");
    this.list = el("ol", { id: "announcement-list", class: "room-list" });
    this.root = el("section", { class: "room-panel", "aria-labelledby": "announce-title" },
      el("h2", { id: "announce-title" }, "Announcements"),
      el("form", { id: "announce-form", onsubmit: (/** @type {SubmitEvent} */ e) => this.send(e) },
        el("label", { for: "announce-text" }, "Message"), this.message,
        el("div", { class: "field" }, el("label", { for: "announce-to" }, "To"), this.to),
        this.error, el("div", { class: "dialog-actions" }, this.button)),
      this.list);
  }

  render() {
    const chosen = this.to.value;
    fillStudents(this.to, this.hooks.rows(), "Everyone in this exam");
    // Students without an attempt yet (enrolled, perhaps in the waiting room): named by user id.
    const waiting = [...this.hooks.notStarted()].sort((a, b) => a.student.localeCompare(b.student));
    if (waiting.length) {
      this.to.append(el("optgroup", { label: "Not started" },
        ...waiting.map((s) => el("option", { value: `user:${s.user_id}` }, s.state === "waiting" ? `${s.student} (waiting room)` : `${s.student} (not started)`))));
      if (chosen.startsWith("user:") && waiting.some((s) => `user:${s.user_id}` === chosen)) this.to.value = chosen;
    }
    const students = new Set(this.hooks.rows().map((r) => r.student));
    this.list.replaceChildren(...this.state.announcementList.map((a) => {
      const acked = new Set(a.acks.map((x) => x.student));
      const meant = a.to === "student" ? [a.student || ""] : [...students];
      const waiting = meant.filter((s) => !acked.has(s)).sort();
      const total = a.to === "student" ? 1 : Math.max(a.recipients, students.size);
      return el("li", { dataset: { id: String(a.id) } },
        el("p", { class: "room-meta" }, `${timeOfDay(this.hooks.parseTime(a.sent_at))} · ${a.to === "student" ? `to ${a.student}` : "to everyone"} · ${a.by || ""}`),
        el("p", {}, a.message),
        el("p", { class: "ack-count", dataset: { complete: String(acked.size >= total) } }, `Acknowledged by ${acked.size} of ${total}`),
        a.acks.length ? el("p", { class: "small" }, "✓ ", a.acks.map((x) => x.student).join(", ")) : null,
        waiting.length ? el("p", { class: "small muted" }, "Not yet: ", waiting.join(", ")) : null);
    }));
  }

  /**
   * Open this panel with one student chosen (the row action "Message…").
   * @param {number} attemptId
   */
  writeTo(attemptId) {
    document.getElementById("tab-announcements")?.click();
    this.render();
    this.to.value = String(attemptId);
    this.message.focus();
  }

  /**
   * Open this panel with one student without an attempt chosen (the not-started list's "Message…").
   * @param {number} userId
   */
  writeToUser(userId) {
    document.getElementById("tab-announcements")?.click();
    this.render();
    this.to.value = `user:${userId}`;
    this.message.focus();
  }

  /** @param {SubmitEvent} event */
  async send(event) {
    event.preventDefault();
    const message = this.message.value;
    if (!message.trim()) return showError(this.error, "Write the message first.");
    const body = { message, ...recipient(this.to.value) };
    this.button.disabled = true;
    showError(this.error, "");
    try {
      const reply = await this.hooks.act({ type: "announce", ...body }, `/api/proctor/exams/${this.hooks.examId}/announcements/`, body);
      this.state.putAnnouncement(stripAck(reply));
      this.message.value = "";
      this.hooks.feed(`You announced: “${message}”`, "action");
      this.changed();
    } catch (error) {
      showError(this.error, error.message);
    } finally {
      this.button.disabled = false;
    }
  }
}

/**
 * The announcement's recipient from the picker's value: "" everyone, "user:<id>" a student without
 * an attempt, else an attempt id.
 * @param {string} value
 * @returns {{attempt_id?: number, user_id?: number}}
 */
export function recipient(value) {
  if (value.startsWith("user:")) return { user_id: Number(value.slice(5)) };
  const attemptId = Number(value);
  return attemptId ? { attempt_id: attemptId } : {};
}

/**
 * Fill a student picker from the table's rows (one option per attempt), keeping the choice.
 * @param {HTMLSelectElement} select
 * @param {import("./contract.js").AttemptRow[]} rows
 * @param {string} none the label of "no one student"
 */
export function fillStudents(select, rows, none) {
  const chosen = select.value;
  const sorted = [...rows].sort((a, b) => a.student.localeCompare(b.student));
  select.replaceChildren(el("option", { value: "" }, none),
    ...sorted.map((r) => el("option", { value: String(r.attempt_id) }, `${r.student} (attempt ${r.attempt_id})`)));
  select.value = sorted.some((r) => String(r.attempt_id) === chosen) ? chosen : "";
}

/**
 * A socket ack's body, or a REST body as it is.
 * @param {any} reply
 * @returns {any}
 */
export function stripAck(reply) {
  const { type: _t, action: _a, request_id: _r, ...body } = reply;
  return body;
}
