// @ts-check
// The student's side of the exam room (issue 12 §2), a feature module of the student page
// (student-hooks.js): each proctor announcement is a banner over the questions until the student
// acknowledges it ("Got it"), and the ask-a-question box under the questions shows the answers
// in place. Everything comes from the attempt's socket: its `room` frame on every connect
// replays what was missed, so a late or reconnecting student sees the same.

import { hideBanner, showBanner } from "./banners.js";
import { parseTime } from "./clock.js";
import { $, el, showError, timeOfDay } from "./dom.js";
import { StudentRoomState } from "./room-state.js";
import { onAttemptOpen, onFrame } from "./student-hooks.js";

/** @typedef {import("./student-hooks.js").AttemptContext} AttemptContext */

export const BANNER = "announcement-";
let nextRequest = 0;

/**
 * An announcement's banner, with its "Got it" button (the attempt's room, and the waiting room: waiting.js).
 * @param {import("./contract.js").StudentAnnouncement} a
 * @param {(id: number, button: HTMLButtonElement) => void} acknowledge
 * @returns {import("./banners.js").Banner}
 */
export function announcementBanner(a, acknowledge) {
  const button = /** @type {HTMLButtonElement} */ (
    el("button", { type: "button", class: "primary small", onclick: () => acknowledge(a.id, button) }, "Got it")
  );
  return {
    kind: "warn",
    order: -1_000_000 + a.id, // above the page's own warnings, oldest first
    assertive: true,
    text: `Announcement: ${a.message}`,
    extra: [
      el("p", { class: "announcement-meta" },
        `${a.to === "student" ? "To you only" : "To everyone"} · ${a.by || "Proctor"} · ${timeOfDay(parseTime(a.sent_at))}`),
      button,
    ],
  };
}

export class StudentRoom {
  /**
   * @param {AttemptContext} ctx
   * @param {HTMLElement} slot where the question box goes
   */
  constructor(ctx, slot) {
    this.ctx = ctx;
    this.slot = slot;
    this.state = new StudentRoomState();
    /** @type {Set<number>} announcements shown as banners */
    this.shown = new Set();
    this.text = el("textarea", { id: "ask-text", rows: 2, maxlength: 1000, required: true, placeholder: "Your question to the proctors" });
    this.error = el("p", { class: "form-error", role: "alert", hidden: true });
    this.thread = el("ol", { id: "ask-thread", class: "ask-thread" });
    this.button = el("button", { type: "submit" }, "Send question");
    this.details = el("details", { class: "ask-box card" },
      el("summary", {}, "Questions to the proctors"),
      el("form", { id: "ask-form", onsubmit: (/** @type {SubmitEvent} */ e) => this.ask(e) },
        el("label", { for: "ask-text" }, "Ask the proctors"), this.text, this.error,
        el("div", { class: "dialog-actions" }, this.button)),
      this.thread);
    slot.replaceChildren(this.details);
  }

  /** @param {any} frame */
  handle(frame) {
    if (this.state.apply(frame)) this.render();
  }

  stop() {
    for (const id of this.shown) hideBanner(BANNER + id);
    this.shown.clear();
    this.slot.replaceChildren();
  }

  render() {
    const pending = new Set(this.state.pending.map((a) => a.id));
    for (const id of this.shown) {
      if (!pending.has(id)) {
        hideBanner(BANNER + id);
        this.shown.delete(id);
      }
    }
    for (const a of this.state.pending) {
      if (this.shown.has(a.id)) continue;
      this.shown.add(a.id);
      showBanner(BANNER + a.id, announcementBanner(a, (id, button) => this.acknowledge(id, button)));
    }
    const thread = this.state.thread;
    this.thread.replaceChildren(...thread.map((q) => el("li", { dataset: { answered: String(Boolean(q.answered_at)) } },
      el("p", { class: "ask-question" }, el("strong", {}, "You: "), q.text),
      q.answer !== null
        ? el("p", { class: "ask-answer" }, el("strong", {}, "Proctor: "), q.answer)
        : el("p", { class: "muted small" }, "Waiting for an answer…"))));
    if (thread.some((q) => q.answered_at)) this.details.open = true;
  }

  /**
   * Over the socket when it is up (its reply is an `acknowledged` frame), else over REST.
   * @param {number} id
   * @param {HTMLButtonElement} button
   */
  async acknowledge(id, button) {
    button.disabled = true;
    if (this.ctx.socket.send({ type: "acknowledge", announcement_id: id, request_id: `ack${++nextRequest}` })) return;
    try {
      const reply = await this.ctx.session.post(`/api/exam/room/${this.ctx.attemptId}/acknowledge/`, { announcement_id: id });
      this.state.acknowledge(reply.announcement_id, reply.acknowledged_at);
      this.render();
    } catch {
      button.disabled = false; // offline: try again
    }
  }

  /** @param {SubmitEvent} event */
  async ask(event) {
    event.preventDefault();
    const text = this.text.value;
    if (!text.trim()) return showError(this.error, "Write your question first.");
    this.button.disabled = true;
    showError(this.error, "");
    try {
      const question = await this.ctx.session.post(`/api/exam/room/${this.ctx.attemptId}/questions/`, { text });
      this.text.value = "";
      this.handle({ type: "question", ...question });
    } catch (error) {
      showError(this.error, `Not sent: ${error.message}`);
    } finally {
      this.button.disabled = false;
    }
  }
}

/** @type {StudentRoom | null} */
let current = null;

onAttemptOpen((ctx) => {
  const room = new StudentRoom(ctx, $("#ask-slot"));
  current = room;
  return () => {
    room.stop();
    if (current === room) current = null;
  };
});

for (const type of ["room", "announcement", "acknowledged", "question"]) {
  onFrame(type, (ctx, frame) => {
    if (current && current.ctx.attemptId === ctx.attemptId) current.handle(frame);
  });
}
