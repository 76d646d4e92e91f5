// @ts-check
// The proctor's inbox of students' questions: unanswered ones first and highlighted, each
// answered in place (the answer goes to that student only). Part of proctor-room.js.

import { el, showError, timeOfDay } from "./dom.js";
import { stripAck } from "./announcements.js";

/** @typedef {import("./proctor-room.js").ProctorRoomHooks} ProctorRoomHooks */
/** @typedef {import("./room-state.js").ProctorRoomState} ProctorRoomState */

export class QuestionsInbox {
  /**
   * @param {ProctorRoomHooks} hooks
   * @param {ProctorRoomState} state
   * @param {() => void} changed
   */
  constructor(hooks, state, changed) {
    this.hooks = hooks;
    this.state = state;
    this.changed = changed;
    /** @type {Map<number, string>} drafts being typed, kept across renders */
    this.drafts = new Map();
    this.count = el("span", { id: "unanswered-count", class: "badge" });
    this.list = el("ol", { id: "question-inbox", class: "room-list" });
    this.root = el("section", { class: "room-panel", "aria-labelledby": "inbox-title" },
      el("h2", { id: "inbox-title" }, "Students' questions ", this.count), this.list);
  }

  render() {
    const open = this.state.unanswered;
    this.count.textContent = open ? `${open} unanswered` : "";
    this.count.hidden = !open;
    const focused = document.activeElement instanceof HTMLTextAreaElement ? document.activeElement.dataset.question : undefined;
    this.list.replaceChildren(...this.state.inbox.map((q) => this.item(q)));
    if (focused) /** @type {HTMLElement | null} */ (this.list.querySelector(`textarea[data-question="${focused}"]`))?.focus();
  }

  /**
   * @param {import("./contract.js").ProctorRoomQuestion} q
   * @returns {HTMLElement}
   */
  item(q) {
    const text = el("textarea", { rows: 2, maxlength: 1000, required: true, dataset: { question: String(q.id) },
      "aria-label": `Answer to ${q.student}`, placeholder: q.answer ? "Change the answer" : "Your answer",
      oninput: () => this.drafts.set(q.id, text.value) });
    text.value = this.drafts.get(q.id) || "";
    const error = el("p", { class: "form-error", role: "alert", hidden: true });
    const button = el("button", { type: "submit" }, q.answer ? "Update answer" : "Reply");
    return el("li", { class: q.answered_at ? "answered" : "unanswered", dataset: { id: String(q.id) } },
      el("p", { class: "room-meta" }, `${timeOfDay(this.hooks.parseTime(q.asked_at))} · ${q.student}`),
      el("p", { class: "ask-question" }, q.text),
      q.answer !== null ? el("p", { class: "ask-answer" }, el("strong", {}, `${q.answered_by || "Proctor"}: `), q.answer) : null,
      el("form", { class: "reply-form", onsubmit: (/** @type {SubmitEvent} */ e) => this.reply(e, q, text, button, error) },
        text, error, el("div", { class: "dialog-actions" }, button)));
  }

  /**
   * @param {SubmitEvent} event
   * @param {import("./contract.js").ProctorRoomQuestion} q
   * @param {HTMLTextAreaElement} text
   * @param {HTMLButtonElement} button
   * @param {HTMLElement} error
   */
  async reply(event, q, text, button, error) {
    event.preventDefault();
    if (!text.value.trim()) return showError(error, "Write the answer first.");
    button.disabled = true;
    const body = { text: text.value };
    try {
      const reply = await this.hooks.act({ type: "answer_question", question_id: q.id, ...body },
        `/api/proctor/exams/${this.hooks.examId}/questions/${q.id}/answer/`, body);
      this.drafts.delete(q.id);
      this.state.putQuestion(stripAck(reply));
      this.hooks.feed(`You answered ${q.student}'s question.`, "action");
      this.changed();
    } catch (err) {
      showError(error, err.message);
      button.disabled = false;
    }
  }
}
