// The questions of an open attempt: radio groups, each with its save state
// ("Saving…", "Saved", "Not saved yet — offline, will retry").

import { parseTime } from "./clock.js";
import { $, el, plural, timeOfDay } from "./dom.js";

/** The attempt's questions as radio groups; a choice goes to `attempt.queue` at once. */
export function renderQuestions(attempt) {
  attempt.nodes = new Map();
  const items = attempt.questions.map((question, index) => {
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
            attempt.queue.choose(question.id, key);
            renderProgress(attempt);
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
    attempt.nodes.set(question.id, { item, fieldset, state });
    renderSaveState(attempt, question.id, question.selected_option ? "saved" : "idle", {});
    return item;
  });
  $("#questions").replaceChildren(...items);
  renderProgress(attempt);
}

const SAVE_TEXT = {
  idle: "Not answered yet",
  saving: "Saving…",
  saved: "Saved",
  offline: "Not saved yet — offline, will retry",
};

/** Show one question's save state: `idle`, `saving`, `saved`, `offline` or `error`. */
export function renderSaveState(attempt, questionId, state, detail) {
  const node = attempt.nodes.get(questionId);
  if (!node) return;
  node.item.dataset.saveState = state;
  node.state.dataset.state = state;
  let text = state === "error" ? `Not saved: ${detail.message}` : SAVE_TEXT[state];
  if (state === "saved" && detail.savedAt) text += ` at ${timeOfDay(parseTime(detail.savedAt))}`;
  if (state === "saved" && detail.external) text += " (from another window)";
  node.state.textContent = text;
  if (detail.external && detail.option) {
    const input = node.fieldset.querySelector(`input[value="${CSS.escape(detail.option)}"]`);
    if (input) input.checked = true;
  }
  renderProgress(attempt);
}

/** "2 of 3 answered"; returns the number answered. */
export function renderProgress(attempt) {
  const answered = $("#questions").querySelectorAll("input:checked").length;
  $("#progress").textContent = `${answered} of ${attempt.questions.length} answered`;
  return answered;
}
