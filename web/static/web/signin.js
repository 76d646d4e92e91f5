// The sign-in form and the signed-in user's box, shared by both pages.

import { $, showError } from "./dom.js";

/** Wire `#signin-form`: on success call `onSignedIn()`; errors go to `#signin-error`. */
export function bindSignIn(session, onSignedIn) {
  const form = $("#signin-form");
  const error = $("#signin-error");
  const button = form.querySelector("button[type=submit]");
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
      showError(error, failure.message);
      form.elements.password.select();
    } finally {
      button.disabled = false;
      button.textContent = "Sign in";
    }
  });
}

/** Show the sign-in view with an optional explanation (e.g. an expired session). */
export function showSignIn(message = "") {
  $("#user-box").hidden = true;
  showError($("#signin-error"), message);
  for (const view of document.querySelectorAll("[data-view]")) view.hidden = view.dataset.view !== "signin";
  $("#signin-form").elements.username.focus();
}

/** The signed-in user (`GET /api/me/`), shown in the header with a sign-out button. */
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
