// @ts-check
// The questions of an open attempt: radio groups, each with its save state ("Saving…", "Saved",
// "Not saved yet — offline, will retry"), a "Flag for review" toggle and "Clear my choice".

import { parseTime } from "./clock.js";
import { $, el, plural, timeOfDay } from "./dom.js";

/** @typedef {import("./contract.js").Question} Question */
/** @typedef {import("./answers.js").SaveState | "idle"} SaveState */
/** @typedef {import("./answers.js").SaveDetail} SaveDetail */
/**
 * @typedef {object} QuestionNode
 * @property {HTMLLIElement} item
 * @property {HTMLFieldSetElement} fieldset
 * @property {HTMLParagraphElement} state
 * @property {HTMLButtonElement} flag
 * @property {HTMLButtonElement} clear
 */
/** @typedef {Map<number, QuestionNode>} QuestionNodes  question id -> its elements */
/**
 * What the question's controls do; `onChange` after anything that changes its marks.
 * @typedef {object} QuestionActions
 * @property {(questionId: number, option: string | null) => void} onChoose a choice, or null: cleared
 * @property {(questionId: number) => boolean} onFlag toggles the flag, returns whether it is flagged now
 * @property {(questionId: number) => boolean} isFlagged
 * @property {(questionId: number) => void} onChange
 */

/**
 * The attempt's questions as radio groups in `#questions`.
 * @param {Question[]} questions
 * @param {QuestionActions} actions
 * @returns {QuestionNodes}
 */
export function renderQuestions(questions, actions) {
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
            actions.onChoose(question.id, key);
            clear.disabled = false;
            actions.onChange(question.id);
          },
        }),
        el("span", { class: "option-key" }, key),
        el("span", { class: "option-text" }, question.options[key]),
      ),
    );
    const flag = el("button", {
      type: "button",
      class: "small flag-button",
      "aria-pressed": String(actions.isFlagged(question.id)),
      onclick: () => {
        flag.setAttribute("aria-pressed", String(actions.onFlag(question.id)));
        actions.onChange(question.id);
      },
    }, "Flag for review");
    const clear = el("button", {
      type: "button",
      class: "small clear-button",
      disabled: !question.selected_option,
      onclick: () => {
        for (const input of fieldset.querySelectorAll("input")) input.checked = false;
        clear.disabled = true;
        actions.onChoose(question.id, null);
        actions.onChange(question.id);
      },
    }, "Clear my choice");
    const fieldset = el(
      "fieldset",
      {},
      el("legend", {}, el("span", { class: "question-number" }, `Question ${index + 1}`), " ",
        el("span", { class: "muted" }, `(${plural(question.points, "point")})`)),
      el("p", { class: "question-text" }, question.text),
      el("div", { class: "options" }, options),
      el("div", { class: "question-tools" }, flag, clear),
    );
    const item = el("li", { class: "question card", id: `question-${question.id}`, tabIndex: -1, dataset: { questionId: question.id } }, fieldset, state);
    nodes.set(question.id, { item, fieldset, state, flag, clear });
    renderSaveState(nodes, question.id, question.selected_option ? "saved" : "idle", { option: question.selected_option || null });
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
  offline: "Not saved yet — offline, will retry; kept on this device",
  held: "Not saved yet — the exam is paused; it will be sent when it resumes",
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
  if (state === "saved" && detail.option === null) text = "Choice cleared";
  if (state === "saving" && detail.option === null) text = "Clearing…";
  if (state === "saved" && detail.savedAt) text += ` at ${timeOfDay(parseTime(detail.savedAt))}`;
  if (state === "saved" && detail.external) text += " (from another window)";
  node.state.textContent = text;
  if (detail.external) {
    for (const input of node.fieldset.querySelectorAll("input")) {
      if (input instanceof HTMLInputElement) input.checked = input.value === detail.option;
    }
    node.clear.disabled = detail.option === null;
  }
  renderProgress(nodes.size);
}

/**
 * Whether the question has a choice on the page.
 * @param {QuestionNodes} nodes
 * @param {number} questionId
 * @returns {boolean}
 */
export function isAnswered(nodes, questionId) {
  const node = nodes.get(questionId);
  return Boolean(node && node.fieldset.querySelector("input:checked"));
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
