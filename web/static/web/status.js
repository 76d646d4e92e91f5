// @ts-check
// The student's connection banner: what is true right now, in words. Offline (the browser says
// so) or the server out of reach (a save failed to get there): answers are kept on this device
// and sent on reconnecting.
// The live connection lost but the server reachable: reconnecting, answers still saved. Back: "back
// online", with what is still being sent, then nothing once all is saved.

import { browserHost } from "./host.js";
import { plural } from "./dom.js";

/** @typedef {{kind: "error" | "warn" | "info" | "ok", text: string}} StatusBanner */
/** @typedef {"connecting" | "live" | "waiting" | "failed"} SocketStatus */

/** How long "back online" stays once everything is saved. */
export const BACK_ONLINE_MS = 4000;

export class ConnectionStatus {
  /** @type {SocketStatus} */
  #socket = "connecting";
  #everLive = false;
  #online = true;
  /** answers kept on this device that the server has not confirmed */
  #waiting = 0;
  /** the last try to reach the server over HTTP failed (no network, server down) */
  #unreachable = false;
  #failure = "";
  #retryInMs = 0;
  /** there was trouble since the socket was last live: say "back online" when it is over */
  #troubled = false;
  /** @type {number | undefined} */
  #clearTimer;
  /** @type {StatusBanner | null} */
  shown = null;

  /**
   * @param {(banner: StatusBanner | null) => void} render
   * @param {Pick<import("./host.js").Host, "setTimeout" | "clearTimeout">} [host]
   */
  constructor(render, host = browserHost) {
    this.render = render;
    this.host = host;
  }

  /**
   * The socket's state (LiveSocket's onStatus).
   * @param {SocketStatus} state
   * @param {{retryInMs?: number, message?: string}} [detail]
   * @returns {void}
   */
  socket(state, detail = {}) {
    if (state === "live") this.#everLive = true;
    this.#socket = state;
    this.#retryInMs = detail.retryInMs || 0;
    this.#failure = detail.message || "";
    this.#update();
  }

  /**
   * The browser's `online` / `offline` events.
   * @param {boolean} online
   * @returns {void}
   */
  network(online) {
    this.#online = online;
    this.#update();
  }

  /**
   * The answer queue's side: how many answers wait for the server, and whether the last try failed to reach it.
   * @param {number} waiting
   * @param {boolean} unreachable
   * @returns {void}
   */
  answers(waiting, unreachable) {
    this.#waiting = waiting;
    this.#unreachable = unreachable && waiting > 0;
    this.#update();
  }

  /**
   * Stop (the attempt's screen closed).
   * @returns {void}
   */
  stop() {
    this.host.clearTimeout(this.#clearTimer);
  }

  #update() {
    const banner = this.#describe();
    if (banner && banner.kind !== "ok") this.#troubled = true;
    if (banner && banner.kind === "ok" && this.shown?.kind === "ok") return; // already shown, going soon
    this.host.clearTimeout(this.#clearTimer);
    if (banner && banner.kind === "ok") {
      this.#clearTimer = this.host.setTimeout(() => {
        this.#troubled = false;
        this.#show(null);
      }, BACK_ONLINE_MS);
    }
    this.#show(banner);
  }

  /** @param {StatusBanner | null} banner */
  #show(banner) {
    if (banner?.kind === this.shown?.kind && banner?.text === this.shown?.text) return;
    this.shown = banner;
    this.render(banner);
  }

  /** @returns {StatusBanner | null} */
  #describe() {
    const kept = this.#waiting ? ` ${plural(this.#waiting, "answer")} waiting on this device.` : "";
    if (this.#socket === "failed") {
      return { kind: "error", text: `${this.#failure || "Disconnected."} Reload the page to try again.${kept}` };
    }
    if (!this.#online) {
      return {
        kind: "error",
        text: "You are offline: answers are kept on this device and will be sent when you reconnect. " +
          `The clock keeps running.${kept}`,
      };
    }
    if (this.#unreachable) {
      return {
        kind: "error",
        text: "The exam server can't be reached: answers are kept on this device and will be sent when it can. " +
          `The clock keeps running.${kept}`,
      };
    }
    if (this.#socket !== "live") {
      if (!this.#everLive) return null; // first connection: the header says "Connecting…"
      const when = this.#socket === "waiting" && this.#retryInMs ? ` (next try in ${Math.ceil(this.#retryInMs / 1000)} s)` : "";
      return {
        kind: "warn",
        text: `Reconnecting to the exam server${when}… Your answers are still being saved over the web connection.${kept}`,
      };
    }
    if (!this.#troubled) return null;
    if (this.#waiting) return { kind: "info", text: `Back online: sending ${plural(this.#waiting, "answer")} kept on this device…` };
    return { kind: "ok", text: "Back online: all your answers are saved." };
  }
}
