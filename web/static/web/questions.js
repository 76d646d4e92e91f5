// @ts-check
// The questions of an open attempt: radio groups, each with its save state
// ("Saving…", "Saved", "Not saved yet — offline, will retry").

import { parseTime } from "./clock.js";
import { $, el, plural, timeOfDay } from "./dom.js";

/** @typedef {import("./contract.js").Question} Question */
/** @typedef {import("./answers.js").SaveState | "idle"} SaveState */
/** @typedef {import("./answers.js").SaveDetail} SaveDetail */
/** @typedef {{item: HTMLLIElement, fieldset: HTMLFieldSetElement, state: HTMLParagraphElement}} QuestionNode */
/** @typedef {Map<number, QuestionNode>} QuestionNodes  question id -> its elements */

/**
 * The attempt's questions as radio groups in `#questions`; `onChoose` at each choice.
 * @param {Question[]} questions
 * @param {(questionId: number, option: string) => void} onChoose
 * @returns {QuestionNodes}
 */
export function renderQuestions(questions, onChoose) {
  /** @type {QuestionNodes} */
  const nodes = new Map();
  const items = questions.map((question, index) => {
    const state = el("p", { class: "save-state", "aria-live": "polite" });
    const options = Object.keys(question.options).sort().map((key) =>
      el(
        "label",
        { class: "option" },
        el("input", {
          type: "radio",
          name: `question-${question.id}`,
          value: key,
          checked: question.selected_option === key,
          onchange: () => {
            onChoose(question.id, key);
            renderProgress(questions.length);
          },
        }),
        el("span", { class: "option-key" }, key),
        el("span", { class: "option-text" }, question.options[key]),
      ),
    );
    const fieldset = el(
      "fieldset",
      {},
      el("legend", {}, el("span", { class: "question-number" }, `Question ${index + 1}`), " ",
        el("span", { class: "muted" }, `(${plural(question.points, "point")})`)),
      el("p", { class: "question-text" }, question.text),
      el("div", { class: "options" }, options),
    );
    const item = el("li", { class: "question card", dataset: { questionId: question.id } }, fieldset, state);
    nodes.set(question.id, { item, fieldset, state });
    renderSaveState(nodes, question.id, question.selected_option ? "saved" : "idle", { option: question.selected_option || "" });
    return item;
  });
  $("#questions").replaceChildren(...items);
  renderProgress(questions.length);
  return nodes;
}

/** @type {Record<string, string>} */
const SAVE_TEXT = {
  idle: "Not answered yet",
  saving: "Saving…",
  saved: "Saved",
  offline: "Not saved yet — offline, will retry",
};

/**
 * Show one question's save state: `idle`, `saving`, `saved`, `offline` or `error`.
 * @param {QuestionNodes} nodes
 * @param {number} questionId
 * @param {SaveState} state
 * @param {SaveDetail} detail
 * @returns {void}
 */
export function renderSaveState(nodes, questionId, state, detail) {
  const node = nodes.get(questionId);
  if (!node) return;
  node.item.dataset.saveState = state;
  node.state.dataset.state = state;
  let text = state === "error" ? `Not saved: ${detail.message}` : SAVE_TEXT[state];
  if (state === "saved" && detail.savedAt) text += ` at ${timeOfDay(parseTime(detail.savedAt))}`;
  if (state === "saved" && detail.external) text += " (from another window)";
  node.state.textContent = text;
  if (detail.external && detail.option) {
    const input = node.fieldset.querySelector(`input[value="${CSS.escape(detail.option)}"]`);
    if (input instanceof HTMLInputElement) input.checked = true;
  }
  renderProgress(nodes.size);
}

/**
 * "2 of 3 answered"; returns the number answered.
 * @param {number} total how many questions the attempt has
 * @returns {number}
 */
export function renderProgress(total) {
  const answered = $("#questions").querySelectorAll("input:checked").length;
  $("#progress").textContent = `${answered} of ${total} answered`;
  return answered;
}
