// @ts-check
// The student's choices on their way to the server. Each choice is kept until the server
// confirms it: sent over the socket when it is live, over REST when it is not (or when the
// socket doesn't answer in time), retried with backoff while the server can't be reached,
// and kept in localStorage so a reload doesn't lose it either. A choice of `null` clears the
// question's answer ("clear my choice"): it travels, waits and is confirmed like any other.

import { browserHost } from "./host.js";

/** @typedef {import("./host.js").Host} Host */
/** @typedef {"saving" | "saved" | "offline" | "held" | "error"} SaveState  held: the attempt is paused, sent when it resumes */
/**
 * What a save state says about the choice: the server's `savedAt` once saved, `external` when
 * saved from another window, the error's `message`, `via: "rest"` while REST carries it.
 * @typedef {{option: string | null, savedAt?: string, external?: boolean, message?: string, code?: string, via?: "rest"}} SaveDetail
 */
/**
 * A saved answer: the socket's `answer_saved` frame (`request_id` when it answers ours) or the REST reply.
 * @typedef {{question_id: number, selected_option: string | null, saved_at: string, request_id?: string}} SavedAnswer
 */
/** @typedef {{request_id?: string, code: string, message: string}} SocketError  the socket's `error` frame */
/** @typedef {{status?: number, code?: string, message: string}} Failure  an ApiError, or a socket error given a status */
/**
 * @typedef {object} QueueOptions
 * @property {number} attemptId
 * @property {{post(path: string, body: object): Promise<SavedAnswer>}} session the REST client (a Session)
 * @property {{send(message: object): boolean}} socket sends when live, false when not (a LiveSocket)
 * @property {(questionId: number, state: SaveState, detail: SaveDetail) => void} onState
 * @property {(error: Failure) => void} onEnded the server says the attempt is over (410 or 409)
 * @property {Pick<Host, "setTimeout" | "clearTimeout" | "monotonic" | "storage">} [host]
 */
/**
 * A choice waiting for the server's confirmation.
 * @typedef {{option: string | null, seq: number, requestId: string | null, restInFlight: boolean, ackTimer?: number}} Entry
 */

const ACK_TIMEOUT_MS = 4000;
const MAX_RETRY_MS = 15_000;
const ANSWER_PATH = "/api/exam/timer/submit-answer/";

let nextId = 0;

export class AnswerQueue {
  /** @type {Map<number, Entry>} question id -> the newest choice not yet confirmed */
  #pending = new Map();
  /** @type {Map<string, {questionId: number, seq: number}>} request id -> what it carried */
  #sent = new Map();
  /** @type {Map<number, {seq: number, option: string | null, savedAt: string}>} question id -> the newest choice the server confirmed to us */
  #confirmed = new Map();
  #seq = 0;
  /** @type {number | undefined} */
  #retryTimer;
  #retries = 0;
  #closed = false;

  /** @param {QueueOptions} options */
  constructor({ attemptId, session, socket, onState, onEnded, host = browserHost }) {
    this.attemptId = attemptId;
    this.session = session;
    this.socket = socket;
    this.onState = onState;
    this.onEnded = onEnded;
    this.host = host;
    this.storageKey = `exam.pending-answers.${attemptId}`;
  }

  /**
   * Queue again the choices a previous page left unsent.
   * @returns {void}
   */
  resume() {
    for (const [questionId, option] of Object.entries(this.#stored())) this.choose(Number(questionId), option);
  }

  /** How many choices wait for the server. */
  get pendingCount() {
    return this.#pending.size;
  }

  /**
   * The student chose `option` (null: cleared their choice): send it, and keep it until the server confirms it.
   * @param {number} questionId
   * @param {string | null} option
   * @returns {void}
   */
  choose(questionId, option) {
    if (this.#closed) return;
    const old = this.#pending.get(questionId);
    if (old) this.host.clearTimeout(old.ackTimer);
    /** @type {Entry} */
    const entry = { option, seq: ++this.#seq, requestId: null, restInFlight: old ? old.restInFlight : false };
    this.#pending.set(questionId, entry);
    this.#persist();
    this.onState(questionId, "saving", { option });
    this.#send(questionId);
  }

  /**
   * Send every waiting choice again (the socket came back, the browser went online).
   * @returns {void}
   */
  flush() {
    this.host.clearTimeout(this.#retryTimer);
    for (const questionId of this.#pending.keys()) this.#send(questionId);
  }

  /**
   * The socket's `answer_saved`: our own reply (with its request id) or a save made elsewhere.
   * @param {SavedAnswer} message
   * @returns {void}
   */
  confirm(message) {
    const questionId = message.question_id;
    const mine = message.request_id !== undefined ? this.#sent.get(message.request_id) : undefined;
    const entry = this.#pending.get(questionId);
    if (mine && message.request_id !== undefined) {
      this.#sent.delete(message.request_id);
      this.#saved(questionId, mine.seq, message);
    } else if (entry && entry.option === message.selected_option) {
      this.#saved(questionId, entry.seq, message);
    } else if (!entry && !this.#isOwnSave(questionId, message)) {
      // Saved from another tab or device: the server's choice is the one that counts.
      this.onState(questionId, "saved", { option: message.selected_option, savedAt: message.saved_at, external: true });
    }
  }

  /**
   * The server tells every socket of the attempt about a save made over REST, ours included, and
   * that frame may come after the REST reply has confirmed the choice: the same save (same
   * option, same `saved_at`) is ours, not another window's.
   * @param {number} questionId
   * @param {SavedAnswer} message
   */
  #isOwnSave(questionId, message) {
    const confirmed = this.#confirmed.get(questionId);
    return confirmed !== undefined && confirmed.option === message.selected_option && confirmed.savedAt === message.saved_at;
  }

  /**
   * The socket's `error` reply; true when it answered one of our answers (and was handled here).
   * @param {SocketError} message
   * @returns {boolean}
   */
  reject(message) {
    const mine = message.request_id === undefined ? undefined : this.#sent.get(message.request_id);
    if (!mine || message.request_id === undefined) return false;
    this.#sent.delete(message.request_id);
    const entry = this.#pending.get(mine.questionId);
    if (!entry || entry.seq !== mine.seq) return true;
    this.host.clearTimeout(entry.ackTimer);
    this.#failed(mine.questionId, entry, { status: statusOf(message.code), code: message.code, message: message.message });
    return true;
  }

  /**
   * Resolves true once nothing is waiting, false after `timeoutMs`.
   * @param {number} timeoutMs
   * @returns {Promise<boolean>}
   */
  drain(timeoutMs) {
    const end = this.host.monotonic() + timeoutMs;
    return new Promise((resolve) => {
      const check = () => {
        if (this.#pending.size === 0) resolve(true);
        else if (this.host.monotonic() >= end) resolve(false);
        else this.host.setTimeout(check, 100);
      };
      this.flush();
      check();
    });
  }

  /**
   * Stop sending (the attempt is over); what could not be saved stays visible as not saved.
   * @returns {void}
   */
  close() {
    this.#closed = true;
    this.host.clearTimeout(this.#retryTimer);
    for (const entry of this.#pending.values()) this.host.clearTimeout(entry.ackTimer);
    this.host.storage.removeItem(this.storageKey);
  }

  /** @returns {Record<string, string | null>} the choices a previous page left unsent */
  #stored() {
    try {
      return JSON.parse(this.host.storage.getItem(this.storageKey) || "{}") || {};
    } catch {
      return {};
    }
  }

  /** @param {number} questionId */
  #send(questionId) {
    const entry = this.#pending.get(questionId);
    if (!entry || this.#closed || entry.restInFlight) return; // a REST call in flight goes first, then we resend
    this.host.clearTimeout(entry.ackTimer);
    entry.requestId = `${questionId}.${entry.seq}.${++nextId}`;
    this.#sent.set(entry.requestId, { questionId, seq: entry.seq });
    const message = { type: "answer", question_id: questionId, selected_option: entry.option, request_id: entry.requestId };
    if (this.socket.send(message)) {
      this.onState(questionId, "saving", { option: entry.option });
      // No reply in time (throttled, or a half-open connection): REST takes over.
      entry.ackTimer = this.host.setTimeout(() => this.#sendRest(questionId, entry), ACK_TIMEOUT_MS);
    } else {
      this.#sendRest(questionId, entry);
    }
  }

  /**
   * @param {number} questionId
   * @param {Entry} entry
   */
  async #sendRest(questionId, entry) {
    if (this.#pending.get(questionId) !== entry || this.#closed) return;
    entry.restInFlight = true;
    this.onState(questionId, "saving", { option: entry.option, via: "rest" });
    const body = { attempt_id: this.attemptId, question_id: questionId, selected_option: entry.option };
    /** @type {SavedAnswer | null} */
    let saved = null;
    /** @type {Failure} */
    let failure = { message: "" };
    try {
      saved = await this.session.post(ANSWER_PATH, body);
    } catch (error) {
      failure = /** @type {Failure} */ (error);
    }
    entry.restInFlight = false;
    const current = this.#pending.get(questionId);
    if (current && current !== entry) {
      // Chosen again while this was on its way: carry the flag over, then send the newer choice.
      current.restInFlight = false;
      if (saved) this.#saved(questionId, entry.seq, saved);
      return this.#send(questionId);
    }
    if (saved) this.#saved(questionId, entry.seq, saved);
    else if (current === entry) this.#failed(questionId, entry, failure);
  }

  /**
   * @param {number} questionId
   * @param {number} seq
   * @param {SavedAnswer} message
   */
  #saved(questionId, seq, message) {
    const newest = this.#confirmed.get(questionId);
    if (!newest || seq > newest.seq) this.#confirmed.set(questionId, { seq, option: message.selected_option, savedAt: message.saved_at });
    const entry = this.#pending.get(questionId);
    if (entry && entry.seq === seq) {
      this.host.clearTimeout(entry.ackTimer);
      this.#pending.delete(questionId);
      this.#persist();
      this.#retries = 0;
      this.onState(questionId, "saved", { option: message.selected_option, savedAt: message.saved_at });
    } else if (!entry && newest && seq < newest.seq && message.selected_option !== newest.option) {
      // An older choice landed after a newer one: the server holds a stale answer, so send the newer again.
      this.choose(questionId, newest.option);
    }
  }

  /**
   * @param {number} questionId
   * @param {Entry} entry
   * @param {Failure} error
   */
  #failed(questionId, entry, error) {
    const status = error.status;
    if (error.code === "attempt_paused") {
      // A proctor paused the attempt: keep it and send it again (the page also flushes on `resumed`).
      this.onState(questionId, "held", { option: entry.option, message: error.message });
      this.#scheduleRetry();
    } else if (status === 410 || status === 409) {
      this.onState(questionId, "error", { option: entry.option, message: error.message, code: error.code });
      this.onEnded(error);
    } else if (status === undefined || status === 0 || status === 401 || status === 429 || status >= 500) {
      // Can't reach the server (or signed out): keep it and try again later.
      this.onState(questionId, "offline", { option: entry.option, message: error.message });
      this.#scheduleRetry();
    } else {
      // 400/403/404: this choice can never be saved as it is.
      this.#pending.delete(questionId);
      this.#persist();
      this.onState(questionId, "error", { option: entry.option, message: error.message });
    }
  }

  #scheduleRetry() {
    this.host.clearTimeout(this.#retryTimer);
    const delay = Math.min(MAX_RETRY_MS, 1000 * 2 ** this.#retries++);
    this.#retryTimer = this.host.setTimeout(() => this.flush(), delay);
  }

  #persist() {
    const waiting = Object.fromEntries([...this.#pending].map(([id, entry]) => [id, entry.option]));
    if (Object.keys(waiting).length) this.host.storage.setItem(this.storageKey, JSON.stringify(waiting));
    else this.host.storage.removeItem(this.storageKey);
  }
}

/**
 * The HTTP status the REST call would have answered with the socket's error `code`.
 * @param {string} code
 * @returns {number}
 */
function statusOf(code) {
  /** @type {Record<string, number>} */
  const statuses = {
    time_up: 410,
    attempt_completed: 409,
    attempt_paused: 409,
    throttled: 429,
    service_unavailable: 503,
    not_found: 404,
    invalid_question: 404,
    invalid_option: 404,
    not_owner: 403,
  };
  return statuses[code] || 400;
}
