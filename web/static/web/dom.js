// @ts-check
// Small DOM helpers and formatters shared by both pages.

/** @typedef {Node | string | null | undefined | false} Child  null, undefined and false are left out */

/**
 * `el("p", {class: "x", dataset: {id: 1}}, "text", child)`: an element with attributes and children.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, any>} [attrs] attributes; `dataset`, `on<event>` listeners and non-string properties are set as such
 * @param {...(Child | Child[])} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name in node && typeof value !== "string") /** @type {any} */ (node)[name] = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  /** @type {(Node | string)[]} */
  const nodes = [];
  for (const child of children.flat()) if (child !== null && child !== undefined && child !== false) nodes.push(child);
  node.append(...nodes);
  return node;
}

/**
 * The page's element that `selector` names, which must exist and be a `type` (HTMLElement unless told).
 * @template {Element} [T=HTMLElement]
 * @param {string} selector
 * @param {new (...args: any[]) => T} [type]
 * @returns {T}
 */
export function $(selector, type) {
  const node = document.querySelector(selector);
  const wanted = type || HTMLElement;
  if (!(node instanceof wanted)) throw new Error(`No ${wanted.name} in the page matches ${selector}`);
  return /** @type {T} */ (node);
}

/**
 * Show one of the page's top-level views (sections marked `data-view`) and hide the others.
 * @param {string} name
 * @returns {void}
 */
export function showView(name) {
  for (const view of document.querySelectorAll("[data-view]")) if (view instanceof HTMLElement) view.hidden = view.dataset.view !== name;
}

/**
 * Put `message` in a `role="alert"` element (or hide it when empty).
 * @param {HTMLElement} node
 * @param {string | null | undefined} message
 * @returns {void}
 */
export function showError(node, message) {
  node.textContent = message || "";
  node.hidden = !message;
}

/**
 * Say something through the page's assertive live region (cleared first so a repeat is said again).
 * @param {string} text
 * @returns {void}
 */
export function announce(text) {
  const region = $("#announcer");
  region.textContent = "";
  setTimeout(() => {
    region.textContent = text;
  }, 50);
}

/**
 * 75 -> "1:15", 3725 -> "1:02:05".
 * @param {number} totalSeconds
 * @returns {string}
 */
export function formatDuration(totalSeconds) {
  const s = Math.max(0, Math.floor(totalSeconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (/** @type {number} */ n) => String(n).padStart(2, "0");
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

/**
 * 90 -> "1 min 30 s", 3600 -> "60 min": how long something takes, in words.
 * @param {number} seconds
 * @returns {string}
 */
export function describeSeconds(seconds) {
  const m = Math.floor(seconds / 60);
  const s = seconds % 60;
  if (m && s) return `${m} min ${s} s`;
  return m ? `${m} min` : `${s} s`;
}

/**
 * Wall-clock time of day of a server timestamp (milliseconds), in the user's locale.
 * @param {number} ms
 * @returns {string}
 */
export function timeOfDay(ms) {
  return TIME_OF_DAY.format(ms);
}

// One formatter for every call: toLocaleTimeString builds one each time (the dashboard's
// "Ends" column drew ~10% of a scroll's script time in it).
const TIME_OF_DAY = new Intl.DateTimeFormat([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });

/**
 * "12 s ago", "3 min ago", "2 h ago".
 * @param {number} ms
 * @returns {string}
 */
export function ago(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  return `${Math.floor(s / 3600)} h ago`;
}

/**
 * "1 answer", "2 answers".
 * @param {number} n
 * @param {string} one
 * @param {string} [many]
 * @returns {string}
 */
export function plural(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}
