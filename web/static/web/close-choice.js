// @ts-check
// One vocabulary past a hard close (issue 11 §2): an extend, an exam-wide change or a reopen whose new
// end runs past a close is refused with `past_close` ("This runs 12 min past the close ..."); the
// proctor then chooses to move the close or keep it, and the action is sent again with `close`.

import { $ } from "./dom.js";

/** @typedef {"move" | "keep"} CloseChoice */

/**
 * The server's refusal without its API instructions (`send close=move ...`), for the dialog.
 * @param {string} message
 * @returns {string}
 */
export function pastCloseText(message) {
  return message.replace(/:\s*send close=move[\s\S]*$/, ".");
}

/**
 * Send without a choice; if the server answers `past_close`, ask and send again with the choice.
 * @template T
 * @param {(close: CloseChoice | undefined) => Promise<T>} send
 * @param {(message: string) => Promise<CloseChoice | null>} [choose] asks the proctor (null: cancelled)
 * @returns {Promise<T | null>} null when the proctor cancelled
 */
export async function withCloseChoice(send, choose = askCloseChoice) {
  try {
    return await send(undefined);
  } catch (error) {
    if (/** @type {any} */ (error)?.code !== "past_close") throw error;
    const close = await choose(/** @type {Error} */ (error).message);
    return close === null ? null : send(close);
  }
}

/**
 * The dashboard's question: move the close, keep it, or cancel.
 * @param {string} message the server's `past_close` message
 * @returns {Promise<CloseChoice | null>}
 */
export function askCloseChoice(message) {
  const dialog = $("#close-dialog", HTMLDialogElement);
  $("#close-text").textContent = pastCloseText(message);
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener(
      "close",
      () => resolve(dialog.returnValue === "move" || dialog.returnValue === "keep" ? dialog.returnValue : null),
      { once: true },
    );
    dialog.showModal();
  });
}
