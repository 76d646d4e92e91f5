// The student's choices on their way to the server. Each choice is kept until the server
// confirms it: sent over the socket when it is live, over REST when it is not (or when the
// socket doesn't answer in time), retried with backoff while the server can't be reached,
// and kept in localStorage so a reload doesn't lose it either.

const ACK_TIMEOUT_MS = 4000;
const MAX_RETRY_MS = 15_000;
const ANSWER_PATH = "/api/exam/timer/submit-answer/";

let nextId = 0;

export class AnswerQueue {
  #pending = new Map(); // question id -> {option, requestId, seq, restInFlight, ackTimer}
  #sent = new Map(); // request id -> {questionId, seq}
  #confirmed = new Map(); // question id -> {seq, option} of the newest choice the server confirmed
  #seq = 0;
  #retryTimer = null;
  #retries = 0;
  #closed = false;

  /**
   * `onState(questionId, state, detail)` with state `saving`, `saved`, `offline` or `error`;
   * `onEnded(error)` when the server says the attempt is over (410 or 409).
   */
  constructor({ attemptId, session, socket, onState, onEnded }) {
    Object.assign(this, { attemptId, session, socket, onState, onEnded });
    this.storageKey = `exam.pending-answers.${attemptId}`;
  }

  /** Choices a previous page left unsent: {questionId: option}. Queue them again with `resume()`. */
  stored() {
    try {
      return JSON.parse(localStorage.getItem(this.storageKey)) || {};
    } catch {
      return {};
    }
  }

  resume() {
    for (const [questionId, option] of Object.entries(this.stored())) this.choose(Number(questionId), option);
  }

  get pendingCount() {
    return this.#pending.size;
  }

  choose(questionId, option) {
    if (this.#closed) return;
    const old = this.#pending.get(questionId);
    if (old) clearTimeout(old.ackTimer);
    const entry = { option, seq: ++this.#seq, requestId: null, restInFlight: old ? old.restInFlight : false };
    this.#pending.set(questionId, entry);
    this.#persist();
    this.onState(questionId, "saving", { option });
    this.#send(questionId);
  }

  /** Send every waiting choice again (the socket came back, the browser went online). */
  flush() {
    clearTimeout(this.#retryTimer);
    for (const questionId of this.#pending.keys()) this.#send(questionId);
  }

  /** The socket's `answer_saved`: our own reply (with its request id) or a save made elsewhere. */
  confirm(message) {
    const questionId = message.question_id;
    const mine = message.request_id !== undefined ? this.#sent.get(message.request_id) : null;
    const entry = this.#pending.get(questionId);
    if (mine) {
      this.#sent.delete(message.request_id);
      this.#saved(questionId, mine.seq, message);
    } else if (entry && entry.option === message.selected_option) {
      this.#saved(questionId, entry.seq, message);
    } else if (!entry) {
      // Saved from another tab or device: the server's choice is the one that counts.
      this.onState(questionId, "saved", { option: message.selected_option, savedAt: message.saved_at, external: true });
    }
  }

  /** The socket's `error` reply to one of our answers. */
  reject(message) {
    const mine = this.#sent.get(message.request_id);
    if (!mine) return false;
    this.#sent.delete(message.request_id);
    const entry = this.#pending.get(mine.questionId);
    if (!entry || entry.seq !== mine.seq) return true;
    clearTimeout(entry.ackTimer);
    this.#failed(mine.questionId, entry, { status: statusOf(message.code), code: message.code, message: message.message });
    return true;
  }

  /** Resolves true once nothing is waiting, false after `timeoutMs`. */
  drain(timeoutMs) {
    const end = performance.now() + timeoutMs;
    return new Promise((resolve) => {
      const check = () => {
        if (this.#pending.size === 0) resolve(true);
        else if (performance.now() >= end) resolve(false);
        else setTimeout(check, 100);
      };
      this.flush();
      check();
    });
  }

  /** Stop sending (the attempt is over); what could not be saved stays visible as not saved. */
  close() {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    for (const entry of this.#pending.values()) clearTimeout(entry.ackTimer);
    localStorage.removeItem(this.storageKey);
  }

  #send(questionId) {
    const entry = this.#pending.get(questionId);
    if (!entry || this.#closed || entry.restInFlight) return; // a REST call in flight goes first, then we resend
    clearTimeout(entry.ackTimer);
    entry.requestId = `${questionId}.${entry.seq}.${++nextId}`;
    this.#sent.set(entry.requestId, { questionId, seq: entry.seq });
    const message = { type: "answer", question_id: questionId, selected_option: entry.option, request_id: entry.requestId };
    if (this.socket.send(message)) {
      this.onState(questionId, "saving", { option: entry.option });
      // No reply in time (throttled, or a half-open connection): REST takes over.
      entry.ackTimer = setTimeout(() => this.#sendRest(questionId, entry), ACK_TIMEOUT_MS);
    } else {
      this.#sendRest(questionId, entry);
    }
  }

  async #sendRest(questionId, entry) {
    if (this.#pending.get(questionId) !== entry || this.#closed) return;
    entry.restInFlight = true;
    this.onState(questionId, "saving", { option: entry.option, via: "rest" });
    const body = { attempt_id: this.attemptId, question_id: questionId, selected_option: entry.option };
    let saved = null;
    let failure = null;
    try {
      saved = await this.session.post(ANSWER_PATH, body);
    } catch (error) {
      failure = error;
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

  #saved(questionId, seq, message) {
    const newest = this.#confirmed.get(questionId);
    if (!newest || seq > newest.seq) this.#confirmed.set(questionId, { seq, option: message.selected_option });
    const entry = this.#pending.get(questionId);
    if (entry && entry.seq === seq) {
      clearTimeout(entry.ackTimer);
      this.#pending.delete(questionId);
      this.#persist();
      this.#retries = 0;
      this.onState(questionId, "saved", { option: message.selected_option, savedAt: message.saved_at });
    } else if (!entry && newest && seq < newest.seq && message.selected_option !== newest.option) {
      // An older choice landed after a newer one: the server holds a stale answer, so send the newer again.
      this.choose(questionId, newest.option);
    }
  }

  #failed(questionId, entry, error) {
    const status = error.status;
    if (status === 410 || status === 409) {
      this.onState(questionId, "error", { option: entry.option, message: error.message });
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
    clearTimeout(this.#retryTimer);
    const delay = Math.min(MAX_RETRY_MS, 1000 * 2 ** this.#retries++);
    this.#retryTimer = setTimeout(() => this.flush(), delay);
  }

  #persist() {
    const waiting = Object.fromEntries([...this.#pending].map(([id, entry]) => [id, entry.option]));
    if (Object.keys(waiting).length) localStorage.setItem(this.storageKey, JSON.stringify(waiting));
    else localStorage.removeItem(this.storageKey);
  }
}

function statusOf(code) {
  return {
    time_up: 410,
    attempt_completed: 409,
    throttled: 429,
    service_unavailable: 503,
    not_found: 404,
    not_owner: 403,
  }[code] || 400;
}
