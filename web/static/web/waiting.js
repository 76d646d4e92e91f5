// @ts-check
// The waiting room of an exam that starts for everyone at once (`waiting_room` on the exam).
// On the instructions page it takes over the Start button: it holds the room's socket
// (`/ws/exams/<id>/wait/`), counts down to `starts_at` on the server's clock, takes the start code
// the proctor reads out, and when the `start` frame arrives (before the start instant) opens the
// attempt behind an overlay that lifts exactly at `started_at`: the questions are on the screen
// when the clock starts, never after. Proctors' announcements show as banners until acknowledged,
// as in the exam (replayed by the room on every connect). Registered through student-hooks.js;
// imported by student.js.

import { bannerElement, hideOverlay, showOverlay } from "./banners.js";
import { parseTime } from "./clock.js";
import { el, formatDuration } from "./dom.js";
import { onAttemptOpen, registerInstructionsLine, registerPreStart } from "./student-hooks.js";
import { LiveSocket } from "./socket.js";
import { StudentRoomState } from "./room-state.js";
import { BANNER, announcementBanner } from "./student-room.js";

/**
 * The room's state from a `waiting` frame.
 * @typedef {object} WaitingFrame
 * @property {"waiting"} type
 * @property {number} exam_id
 * @property {string} exam_title
 * @property {number} duration_seconds
 * @property {string | null} starts_at
 * @property {boolean} code_required
 * @property {boolean} code_accepted
 * @property {string} server_time
 */
/** @typedef {import("./contract.js").QuestionsBody & {type: "start", started_at: string}} StartFrame */

const OVERLAY = "waiting-room-start";

/**
 * What the waiting page says, from the room's state and the server's time (pure: unit-tested).
 * @param {{startsAtMs: number | null, codeRequired: boolean, codeAccepted: boolean}} room
 * @param {number} nowMs the server's time
 * @returns {{headline: string, countdown: string | null, askCode: boolean}}
 */
export function waitingText(room, nowMs) {
  const askCode = room.codeRequired && !room.codeAccepted;
  if (room.startsAtMs === null) {
    return {
      headline: askCode
        ? "Enter the start code your proctor reads out. The proctor will start the exam for everyone."
        : "You are in the waiting room. The proctor will start the exam for everyone at once.",
      countdown: null,
      askCode,
    };
  }
  const seconds = Math.max(0, Math.ceil((room.startsAtMs - nowMs) / 1000));
  if (seconds === 0) {
    return {
      headline: askCode ? "The exam has started: enter the start code to join." : "Starting…",
      countdown: null,
      askCode,
    };
  }
  return {
    headline: askCode
      ? "Enter the start code your proctor reads out before the exam starts."
      : "You are in the waiting room. Your questions appear when the exam starts.",
    countdown: formatDuration(seconds),
    askCode,
  };
}

registerInstructionsLine((exam) =>
  exam.waiting_room
    ? "This exam starts for everyone at the same moment: wait here; your questions appear when it starts."
    : null,
);

/** @type {Map<number, number>} attempt id -> its start instant (epoch ms, server's clock) */
const reveals = new Map();

registerPreStart((context) => {
  const { exam, slot, startButton, session, clock } = context;
  if (!exam.waiting_room) return;
  startButton.hidden = true;
  const headline = el("p", { id: "waiting-headline" }, "Joining the waiting room…");
  const countdown = el("p", { id: "waiting-countdown", class: "countdown", role: "timer", "aria-label": "Time to the start" });
  const input = /** @type {HTMLInputElement} */ (
    el("input", { id: "start-code", name: "code", autocomplete: "off", maxlength: "32", "aria-label": "Start code" })
  );
  const error = el("p", { id: "start-code-error", class: "form-error", role: "alert", hidden: "" });
  const form = el("form", { id: "start-code-form", class: "start-code", hidden: "" }, input, el("button", { type: "submit", class: "primary" }, "Enter code"));
  const news = el("div", { id: "waiting-announcements", class: "banners" });
  const box = el("div", { class: "waiting-room", "data-testid": "waiting-room" }, news, headline, countdown, form, error);
  slot.replaceChildren(box);

  /** @type {{startsAtMs: number | null, codeRequired: boolean, codeAccepted: boolean}} */
  let room = { startsAtMs: null, codeRequired: false, codeAccepted: true };
  let started = false;
  // Announcements not acknowledged yet, over the room (the attempt's banners are not on screen yet).
  const announcements = new StudentRoomState();
  let acks = 0;
  /** @type {(id: number, button: HTMLButtonElement) => void} */
  const acknowledge = (id, button) => {
    button.disabled = true;
    // Its reply (`acknowledged`) drops the banner; offline, the button comes back.
    if (!socket.send({ type: "acknowledge", announcement_id: id, request_id: `ack-${++acks}` })) button.disabled = false;
  };
  const showNews = () =>
    news.replaceChildren(...announcements.pending.map((a) => bannerElement(BANNER + a.id, announcementBanner(a, acknowledge))));

  function render() {
    const text = waitingText(room, clock.now());
    headline.textContent = text.headline;
    countdown.textContent = text.countdown || "";
    countdown.hidden = !text.countdown;
    form.hidden = !text.askCode;
  }

  /** @param {string} message */
  function showProblem(message) {
    error.textContent = message;
    error.hidden = !message;
  }

  const socket = new LiveSocket({
    path: `/ws/exams/${exam.id}/wait/`,
    session,
    onMessage: (message, receivedAt) => {
      if (started) return;
      if (message.type === "waiting") {
        /** @type {WaitingFrame} */
        const frame = message;
        clock.addSample(frame.server_time, receivedAt);
        room = {
          startsAtMs: frame.starts_at ? parseTime(frame.starts_at) : null,
          codeRequired: frame.code_required,
          codeAccepted: frame.code_accepted,
        };
        if (room.codeAccepted) showProblem("");
        render();
      } else if (message.type === "start") {
        /** @type {StartFrame} */
        const frame = message;
        clock.addSample(frame.server_time, receivedAt);
        started = true;
        reveals.set(frame.attempt_id, parseTime(frame.started_at));
        socket.stop(); // the attempt's own socket takes over
        context.open(frame.attempt_id);
      } else if (announcements.apply(message)) {
        showNews();
      } else if (message.type === "error") {
        showProblem(message.message);
      }
    },
    onStatus: (state, detail) => {
      if (state === "failed") showProblem(detail.message || "Could not join the waiting room.");
      else if (state === "waiting") showProblem("Reconnecting to the waiting room…");
      else if (state === "live") showProblem("");
    },
    messages: { forbidden: "You are not enrolled in this exam.", notFound: "This exam has no waiting room." },
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const code = input.value.trim();
    if (!code) return showProblem("Enter the code first.");
    socket.send({ type: "start_code", code, request_id: `code-${Date.now()}` });
  });
  socket.start();
  const ticker = setInterval(render, 250);
  return () => {
    clearInterval(ticker);
    if (!started) socket.stop();
    slot.replaceChildren(); // the attempt's room takes over (its `room` frame replays those still to acknowledge)
  };
});

// The attempt opened from a `start` frame: its questions stay covered until the start instant.
onAttemptOpen(({ attemptId, clock }) => {
  const at = reveals.get(attemptId);
  if (at === undefined) return;
  reveals.delete(attemptId);
  /** @type {number | undefined} */
  let timer;
  const tick = () => {
    const left = at - clock.now();
    if (left <= 0) return hideOverlay(OVERLAY);
    showOverlay(OVERLAY, { title: "Get ready", text: `The exam starts in ${Math.ceil(left / 1000)} s.` });
    timer = setTimeout(tick, Math.min(250, left));
  };
  tick();
  return () => {
    clearTimeout(timer);
    hideOverlay(OVERLAY);
  };
});
