// @ts-check
// The device-clock warning: how far the system clock is from the server's, in words, or null
// when it is close enough not to matter. The page recomputes it on every countdown redraw and
// every clock sample, so a changed system clock (or a corrected estimate) shows within a second.

import { describeSeconds } from "./dom.js";

/** Below this many seconds apart, say nothing. */
export const SKEW_HINT_SECONDS = 5;

/**
 * @param {number} skewMs how far the system clock is behind the server's (negative when ahead), ServerClock.skewMs
 * @returns {string | null}
 */
export function skewText(skewMs) {
  const skew = Math.round(skewMs / 1000);
  if (Math.abs(skew) < SKEW_HINT_SECONDS) return null;
  return `Your device's clock is ${describeSeconds(Math.abs(skew))} ${skew > 0 ? "behind" : "ahead"}; ` +
    "the countdown follows the server's clock.";
}
