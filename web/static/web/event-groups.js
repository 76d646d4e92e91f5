// @ts-check
// Events about many students at once, grouped: 37 disconnections within 30 s are one group
// ("37 students disconnected"), not 37 lines. Pure: the feed and the alerts draw from it.

/** How long after a group's first event a like event still joins it. */
export const GROUP_WINDOW_MS = 30_000;

/**
 * @typedef {object} EventGroup
 * @property {number} id
 * @property {string} kind the event's type
 * @property {number} first server ms of its first event
 * @property {number} last server ms of its latest event
 * @property {Map<number, string>} students attempt id -> student, in arrival order
 */

export class EventGroups {
  /** @type {EventGroup[]} newest last */
  groups = [];
  #nextId = 1;

  /**
   * @param {{windowMs?: number, limit?: number}} [options] `limit`: groups kept
   */
  constructor({ windowMs = GROUP_WINDOW_MS, limit = 200 } = {}) {
    this.windowMs = windowMs;
    this.limit = limit;
  }

  /**
   * Record that `kind` happened to an attempt at `at`; returns its group and whether it is new.
   * It joins the newest group of its kind when that began at most `windowMs` before.
   * @param {string} kind
   * @param {number} attemptId
   * @param {string} student
   * @param {number} at
   * @returns {{group: EventGroup, created: boolean}}
   */
  add(kind, attemptId, student, at) {
    let latest = null;
    for (let i = this.groups.length - 1; i >= 0 && !latest; i--) if (this.groups[i].kind === kind) latest = this.groups[i];
    if (latest && at - latest.first <= this.windowMs) {
      latest.students.delete(attemptId); // a repeat moves to the end
      latest.students.set(attemptId, student);
      latest.last = Math.max(latest.last, at);
      return { group: latest, created: false };
    }
    /** @type {EventGroup} */
    const group = { id: this.#nextId++, kind, first: at, last: at, students: new Map([[attemptId, student]]) };
    this.groups.push(group);
    if (this.groups.length > this.limit) this.groups.shift();
    return { group, created: true };
  }
}
