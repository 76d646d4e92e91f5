// @ts-check
// "Start now" for an exam with a waiting room: a toolbar action of the dashboard. Its
// confirmation names the exam and how many students are waiting (read fresh from the server),
// then every waiting student's clock starts at the same instant (the server's lead ahead, so
// the questions reach every screen first). Registered through dashboard.js; imported by proctor.js.

import { dashboard } from "./dashboard.js";

/**
 * The waiting room as `GET /api/proctor/exams/<id>/room/` reports it (the fields used here).
 * @typedef {object} WaitingRoom
 * @property {string} title
 * @property {boolean} waiting_room
 * @property {string | null} scheduled_at
 * @property {string | null} started_at
 * @property {string} start_code
 * @property {number} checked_in
 * @property {number} ready
 * @property {number} started
 */

/**
 * The confirmation's text, or why there is nothing to confirm (pure: unit-tested).
 * @param {WaitingRoom} room
 * @returns {{ok: boolean, text: string}}
 */
export function startNowText(room) {
  if (!room.waiting_room) return { ok: false, text: `"${room.title}" has no waiting room: its students start on their own.` };
  if (room.started_at) return { ok: false, text: `"${room.title}" has already started.` };
  const waiting = room.ready === 1 ? "1 student is" : `${room.ready} students are`;
  let text = `Start "${room.title}" now? ${waiting} waiting; their clocks all start together in a moment.`;
  const withoutCode = room.checked_in - room.ready;
  if (withoutCode > 0) {
    text += ` ${withoutCode} more ${withoutCode === 1 ? "has" : "have"} not entered the start code yet and will start when they do.`;
  }
  if (room.scheduled_at) text += " This replaces the scheduled start.";
  return { ok: true, text };
}

dashboard.addToolbarAction({
  key: "start-now",
  label: "Start now…",
  danger: true,
  visible: (ctx) => Boolean(ctx.exam && /** @type {any} */ (ctx.exam).waiting_room),
  async run(ctx) {
    /** @type {WaitingRoom} */
    let room;
    try {
      room = await ctx.session.get(`/api/proctor/exams/${ctx.examId}/room/`);
    } catch (error) {
      ctx.feed(`Could not read the waiting room: ${error.message}`, "error");
      return;
    }
    const { ok, text } = startNowText(room);
    if (!ok) {
      ctx.feed(text, "info");
      return;
    }
    if (!window.confirm(text)) return;
    try {
      const ack = await ctx.send({ type: "start_now" }, `/api/proctor/exams/${ctx.examId}/start-now/`);
      ctx.feed(`Started: every clock starts at ${new Date(ack.started_at).toLocaleTimeString()} (${ack.ready} waiting).`, "action");
    } catch (error) {
      ctx.feed(`Could not start the exam: ${error.message}`, "error");
    }
  },
});

dashboard.on("frame", (message, ctx) => {
  if (message.type === "exam_starting") {
    ctx.feed(`The exam starts for everyone waiting at ${new Date(message.started_at).toLocaleTimeString()}.`, "info");
  }
});
