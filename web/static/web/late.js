// @ts-check
// Answers that did not count, and why: a choice the server refused as too late (it arrived after
// the deadline) or one still waiting on this device when the attempt ended. Kept per attempt in
// localStorage, so the result screen says it after a reload too.

import { browserHost } from "./host.js";
import { timeOfDay } from "./dom.js";

/**
 * One choice that did not count. Times are the server's (epoch ms, the page's ServerClock).
 * @typedef {object} LateAnswer
 * @property {number} questionId
 * @property {number} number the question's number on the page (1, 2, ...)
 * @property {string | null} option the choice (null: clearing the choice)
 * @property {number} chosenAt
 * @property {number | null} offlineSince when this device first failed to reach the server with it, if it did
 * @property {number | null} refusedAt when the server said it was too late; null: it never reached the server
 * @property {string} message the server's words, if it refused it
 */

export class LateAnswers {
  /** @type {Map<number, {option: string | null, chosenAt: number, offlineSince: number | null}>} what is on its way */
  #chosen = new Map();

  /**
   * @param {number} attemptId
   * @param {Pick<import("./host.js").Host, "storage">} [host]
   */
  constructor(attemptId, host = browserHost) {
    this.host = host;
    this.key = `exam.late-answers.${attemptId}`;
  }

  /**
   * The student chose `option` at `at`.
   * @param {number} questionId
   * @param {string | null} option
   * @param {number} at
   * @returns {void}
   */
  chosen(questionId, option, at) {
    const previous = this.#chosen.get(questionId);
    // A choice made again while offline keeps the time the device first failed to send.
    this.#chosen.set(questionId, { option, chosenAt: at, offlineSince: previous ? previous.offlineSince : null });
  }

  /**
   * The choice could not reach the server at `at` (no network, server down).
   * @param {number} questionId
   * @param {number} at
   * @returns {void}
   */
  offline(questionId, at) {
    const entry = this.#chosen.get(questionId);
    if (entry && entry.offlineSince === null) entry.offlineSince = at;
  }

  /**
   * The server saved it: nothing to report.
   * @param {number} questionId
   * @returns {void}
   */
  saved(questionId) {
    this.#chosen.delete(questionId);
  }

  /**
   * The server refused it as too late (410 `time_up`).
   * @param {number} questionId
   * @param {number} number
   * @param {number} at
   * @param {string} message
   * @returns {void}
   */
  refused(questionId, number, at, message) {
    const entry = this.#chosen.get(questionId);
    if (!entry) return;
    this.#chosen.delete(questionId);
    this.#add({ questionId, number, ...entry, refusedAt: at, message });
  }

  /**
   * The attempt ended with these choices still on this device (never confirmed by the server).
   * @param {(questionId: number) => number} numberOf
   * @returns {void}
   */
  ended(numberOf) {
    for (const [questionId, entry] of this.#chosen) this.#add({ questionId, number: numberOf(questionId), ...entry, refusedAt: null, message: "" });
    this.#chosen.clear();
  }

  /** @returns {LateAnswer[]} what did not count, by question number */
  get list() {
    try {
      const stored = JSON.parse(this.host.storage.getItem(this.key) || "[]");
      return Array.isArray(stored) ? stored : [];
    } catch {
      return [];
    }
  }

  /** @param {LateAnswer} late */
  #add(late) {
    const list = this.list.filter((l) => l.questionId !== late.questionId);
    list.push(late);
    list.sort((a, b) => a.number - b.number);
    this.host.storage.setItem(this.key, JSON.stringify(list));
  }
}

/**
 * Why one answer did not count, in words, against the attempt's deadline (server epoch ms).
 * @param {LateAnswer} late
 * @param {number | null} deadline
 * @returns {string}
 */
export function describeLate(late, deadline) {
  const what = late.option === null ? "Clearing your choice" : `Your choice ${late.option}`;
  const chosen = `made at ${timeOfDay(late.chosenAt)}`;
  const offline = late.offlineSince === null ? "" : `, while this device was offline (from ${timeOfDay(late.offlineSince)})`;
  const due = deadline === null ? "the deadline" : `the deadline (${timeOfDay(deadline)})`;
  if (late.refusedAt === null) {
    return `Question ${late.number}: ${what}, ${chosen}${offline}, was still on this device, unconfirmed, when the exam ended; ` +
      "it counts only if your result above shows it.";
  }
  const after = deadline !== null && late.chosenAt > deadline ? " It was made after the deadline." : "";
  return `Question ${late.number}: ${what}, ${chosen}${offline}, reached the server after ${due} and was not counted.${after}`;
}
