// @ts-check
// What the browser modules take from the browser: clocks, timers, storage, sockets and page
// events. The classes that need them take a `host` (this one unless told otherwise), so the
// node tests in tests/js/ can drive them with a fake one. Each member reads the global when
// called, so a page whose clock is faked after load (Playwright's `page.clock`) still sees it.

/**
 * The part of a WebSocket the modules use.
 * @typedef {Pick<WebSocket, "readyState" | "send" | "close" | "onopen" | "onmessage" | "onclose">} SocketLike
 */

/**
 * @typedef {object} Host
 * @property {() => number} monotonic milliseconds on a clock that only moves forward (`performance.now()`)
 * @property {() => number} wall the system clock in epoch milliseconds (`Date.now()`)
 * @property {(callback: () => void, ms: number) => number} setTimeout
 * @property {(id: number | null | undefined) => void} clearTimeout
 * @property {() => number} random a number in [0, 1)
 * @property {Pick<Storage, "getItem" | "setItem" | "removeItem">} storage the page's `localStorage`
 * @property {Pick<Storage, "getItem" | "setItem" | "removeItem">} sessionStorage the tab's `sessionStorage`
 * @property {(path: string, init: RequestInit) => Promise<Response>} fetch
 * @property {(path: string) => SocketLike} openSocket a WebSocket to `path` on the page's own server
 * @property {EventTarget} window fires `online`
 * @property {EventTarget & { readonly visibilityState: DocumentVisibilityState }} document fires `visibilitychange`
 */

/** @type {Host} */
export const browserHost = {
  monotonic: () => performance.now(),
  wall: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (id) => clearTimeout(id ?? undefined),
  random: () => Math.random(),
  get storage() {
    return localStorage;
  },
  get sessionStorage() {
    return sessionStorage;
  },
  fetch: (path, init) => fetch(path, init),
  openSocket: (path) => new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${path}`),
  get window() {
    return window;
  },
  get document() {
    return document;
  },
};
