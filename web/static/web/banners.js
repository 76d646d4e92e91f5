// @ts-check
// What the student must see above or over the questions, from any module: banners (a line each,
// kept in order of importance, e.g. the connection status, an announcement to acknowledge) and
// overlays (a screen over the questions that keeps them out of reach, e.g. "paused").
//
//   showBanner("connection", {kind: "warn", text: "…"}); hideBanner("connection");
//   showOverlay("paused", {title: "Paused", text: "…"}); hideOverlay("paused");
//
// Each module owns its ids. The page clears every banner and overlay when an attempt's screen
// closes (clearAttemptScreens), so a module only shows and hides its own.

import { $, el } from "./dom.js";

/** @typedef {"error" | "warn" | "info" | "ok"} BannerKind */
/**
 * @typedef {object} Banner
 * @property {BannerKind} kind
 * @property {string} text
 * @property {Node[]} [extra] more content after the text (a button, a list)
 * @property {number} [order] lower comes first among banners of the same kind (default 0)
 * @property {boolean} [assertive] a screen reader says it at once (role=alert), not politely
 */
/**
 * @typedef {object} Overlay
 * @property {string} title
 * @property {string} text
 * @property {Node[]} [extra]
 */

const RANK = { error: 0, warn: 1, info: 2, ok: 3 };

/** @type {Map<string, Banner>} */
const banners = new Map();
/** @type {Map<string, Overlay>} */
const overlays = new Map();

/**
 * Show (or replace) the banner `id`.
 * @param {string} id
 * @param {Banner} banner
 * @returns {void}
 */
export function showBanner(id, banner) {
  banners.set(id, banner);
  renderBanners();
}

/**
 * @param {string} id
 * @returns {void}
 */
export function hideBanner(id) {
  if (banners.delete(id)) renderBanners();
}

/**
 * Cover the questions with the overlay `id` (the newest shown is on top); the questions can't be used meanwhile.
 * @param {string} id
 * @param {Overlay} overlay
 * @returns {void}
 */
export function showOverlay(id, overlay) {
  overlays.delete(id);
  overlays.set(id, overlay);
  renderOverlays();
}

/**
 * @param {string} id
 * @returns {void}
 */
export function hideOverlay(id) {
  if (overlays.delete(id)) renderOverlays();
}

/** True while an overlay covers the questions. */
export function overlayShown() {
  return overlays.size > 0;
}

/**
 * Remove every banner and overlay (the attempt's screen closed).
 * @returns {void}
 */
export function clearAttemptScreens() {
  banners.clear();
  overlays.clear();
  renderBanners();
  renderOverlays();
}

function renderBanners() {
  const sorted = [...banners].sort(
    ([, a], [, b]) => RANK[a.kind] - RANK[b.kind] || (a.order || 0) - (b.order || 0),
  );
  $("#banners").replaceChildren(...sorted.map(([id, banner]) => bannerElement(id, banner)));
}

/**
 * A banner's element, for a page part that shows banners of its own (the waiting room, before any attempt).
 * @param {string} id
 * @param {Banner} banner
 * @returns {HTMLElement}
 */
export function bannerElement(id, banner) {
  return el(
    "div",
    { class: "banner", role: banner.assertive ? "alert" : "status", dataset: { banner: id, kind: banner.kind } },
    el("p", { class: "banner-text" }, banner.text),
    banner.extra || [],
  );
}

function renderOverlays() {
  const top = [...overlays].at(-1);
  const root = $("#overlay");
  root.hidden = !top;
  // The questions, the navigator and the submit button are out of reach under an overlay.
  $("#attempt-body").inert = Boolean(top);
  if (!top) return root.replaceChildren();
  const [id, overlay] = top;
  root.dataset.overlay = id;
  root.replaceChildren(
    el("div", { class: "overlay-card card", role: "alertdialog", "aria-labelledby": "overlay-title" },
      el("h2", { id: "overlay-title" }, overlay.title),
      el("p", {}, overlay.text),
      overlay.extra || []),
  );
}
