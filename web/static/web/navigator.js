// @ts-check
// The question navigator: one button per question, marked answered and flagged for review;
// a click brings the question into view and focuses it.

import { $, el } from "./dom.js";

/** @typedef {import("./contract.js").Question} Question */

export class QuestionNavigator {
  /** @type {Map<number, HTMLButtonElement>} */
  #buttons = new Map();

  /**
   * Draw the navigator into `#navigator` for these questions.
   * @param {Question[]} questions
   * @param {(questionId: number) => void} onJump
   */
  constructor(questions, onJump) {
    const items = questions.map((question, index) => {
      const button = el("button", {
        type: "button",
        class: "nav-question",
        dataset: { questionId: question.id },
        onclick: () => onJump(question.id),
      }, String(index + 1));
      this.#buttons.set(question.id, button);
      return el("li", {}, button);
    });
    $("#navigator-list").replaceChildren(...items);
    this.numbers = new Map(questions.map((q, index) => [q.id, index + 1]));
  }

  /**
   * Show one question's marks.
   * @param {number} questionId
   * @param {{answered: boolean, flagged: boolean, problem: boolean}} marks problem: its answer is not saved
   * @returns {void}
   */
  mark(questionId, { answered, flagged, problem }) {
    const button = this.#buttons.get(questionId);
    if (!button) return;
    button.dataset.answered = String(answered);
    button.dataset.flagged = String(flagged);
    button.dataset.problem = String(problem);
    const words = [answered ? "answered" : "not answered", flagged ? "flagged for review" : "", problem ? "not saved yet" : ""];
    button.setAttribute("aria-label", `Question ${this.numbers.get(questionId)}: ${words.filter(Boolean).join(", ")}`);
    button.title = button.getAttribute("aria-label") || "";
  }

  /**
   * The summary line: "2 flagged for review".
   * @param {number} flagged
   * @returns {void}
   */
  summary(flagged) {
    $("#navigator-flagged").textContent = flagged ? `${flagged} flagged for review` : "";
  }
}
