// @ts-check
// The sign-in form and the signed-in user's box, shared by both pages.

import { $, showError, showView } from "./dom.js";

/** @typedef {import("./api.js").Session} Session */

/**
 * The sign-in form's fields.
 * @typedef {HTMLFormElement & {elements: HTMLFormControlsCollection & {username: HTMLInputElement, password: HTMLInputElement}}} SignInForm
 */

/** @returns {SignInForm} */
function signInForm() {
  return /** @type {SignInForm} */ ($("#signin-form", HTMLFormElement));
}

/**
 * Wire `#signin-form`: on success call `onSignedIn()`; errors go to `#signin-error`.
 * @param {Session} session
 * @param {() => unknown} onSignedIn
 * @returns {void}
 */
export function bindSignIn(session, onSignedIn) {
  const form = signInForm();
  const error = $("#signin-error");
  const button = $("#signin-form button[type=submit]", HTMLButtonElement);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    button.textContent = "Signing in…";
    showError(error, "");
    try {
      await session.login(form.elements.username.value.trim(), form.elements.password.value);
      form.reset();
      await onSignedIn();
    } catch (failure) {
      showError(error, /** @type {Error} */ (failure).message);
      form.elements.password.select();
    } finally {
      button.disabled = false;
      button.textContent = "Sign in";
    }
  });
}

/**
 * Show the sign-in view with an optional explanation (e.g. an expired session).
 * @param {string} [message]
 * @returns {void}
 */
export function showSignIn(message = "") {
  $("#user-box").hidden = true;
  showError($("#signin-error"), message);
  showView("signin");
  signInForm().elements.username.focus();
}

/**
 * The signed-in user (`GET /api/me/`), shown in the header with a sign-out button.
 * @param {Session} session
 * @param {() => void} onSignOut
 * @returns {Promise<{username: string, is_staff: boolean}>}
 */
export async function loadUser(session, onSignOut) {
  const me = await session.get("/api/me/");
  $("#user-name").textContent = me.username;
  $("#user-box").hidden = false;
  $("#sign-out").onclick = () => {
    session.signOut();
    onSignOut();
  };
  return me;
}
