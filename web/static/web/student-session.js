// @ts-check
// The student page's one REST session and one server clock, and its navigation tickets: each
// view bumps the ticket when it opens, so a slow load for a view the student already left is dropped.

import { Session } from "./api.js";
import { ServerClock } from "./clock.js";

export const session = new Session("exam.student.tokens");
export const clock = new ServerClock();
session.now = () => clock.now();

let visit = 0;

/**
 * A new view opens: its ticket.
 * @returns {number}
 */
export function newVisit() {
  return ++visit;
}

/**
 * Whether the view that took `ticket` is still the one shown.
 * @param {number} ticket
 * @returns {boolean}
 */
export function stillVisiting(ticket) {
  return ticket === visit;
}
