// @ts-check
// "Flag for review": the questions a student marked to come back to, kept on this device per
// attempt (localStorage), so a reload or a reconnect keeps them. The server never sees them.

import { browserHost } from "./host.js";

/** @typedef {Pick<import("./host.js").Host, "storage">} FlagHost */

export class FlagStore {
  /** @type {Set<number>} */
  #flags;

  /**
   * @param {number} attemptId
   * @param {FlagHost} [host]
   */
  constructor(attemptId, host = browserHost) {
    this.host = host;
    this.key = `exam.flags.${attemptId}`;
    this.#flags = new Set(this.#read());
  }

  /**
   * @param {number} questionId
   * @returns {boolean}
   */
  has(questionId) {
    return this.#flags.has(questionId);
  }

  /**
   * Flag or unflag a question; returns whether it is flagged now.
   * @param {number} questionId
   * @returns {boolean}
   */
  toggle(questionId) {
    if (this.#flags.has(questionId)) this.#flags.delete(questionId);
    else this.#flags.add(questionId);
    this.#write();
    return this.#flags.has(questionId);
  }

  /** How many questions are flagged. */
  get size() {
    return this.#flags.size;
  }

  /**
   * Forget the flags (the attempt is over).
   * @returns {void}
   */
  clear() {
    this.#flags.clear();
    this.host.storage.removeItem(this.key);
  }

  /** @returns {number[]} */
  #read() {
    try {
      const stored = JSON.parse(this.host.storage.getItem(this.key) || "[]");
      return Array.isArray(stored) ? stored.filter((id) => Number.isInteger(id)) : [];
    } catch {
      return [];
    }
  }

  #write() {
    if (this.#flags.size) this.host.storage.setItem(this.key, JSON.stringify([...this.#flags].sort((a, b) => a - b)));
    else this.host.storage.removeItem(this.key);
  }
}
