// @ts-check
// The dashboard's time control (issue 11 §3-4): pause and resume one attempt or the whole exam, and
// extend (or shorten) every attempt in progress at once. Each asks for confirmation naming the exam
// and how many attempts it touches; the server's rows and frames then update the table.

import { withCloseChoice } from "./close-choice.js";
import { dashboard } from "./dashboard.js";

/** @typedef {import("./dashboard.js").DashboardContext} DashboardContext */
/** @typedef {import("./contract.js").AttemptRow} AttemptRow */

/**
 * Attempts the exam-wide actions touch: those in progress (paused or not).
 * @param {DashboardContext} ctx
 * @returns {AttemptRow[]}
 */
export function inProgress(ctx) {
  return [...ctx.rows.values()].filter((row) => row.status === "ongoing");
}

/**
 * The confirmation of an exam-wide action, naming the exam and the count.
 * @param {string} action e.g. "Pause"
 * @param {string | undefined} title
 * @param {number} count
 * @returns {string}
 */
export function confirmText(action, title, count) {
  return `${action} “${title || "this exam"}” for all ${count} attempt${count === 1 ? "" : "s"} in progress?`;
}

/**
 * Send a time-control action over the socket (REST when it is down) and say what it did.
 * @param {DashboardContext} ctx
 * @param {Record<string, any>} message
 * @param {string} path
 * @param {string} done
 */
async function act(ctx, message, path, done) {
  try {
    // Only a change of time can run past a close; the others never answer `past_close`.
    const reply = await withCloseChoice((close) => {
      const { type, ...body } = close ? { ...message, close } : message;
      return ctx.send({ type, ...body }, path, body);
    });
    if (reply === null) return;
    ctx.feed(`${done} (${reply.changed} attempt${reply.changed === 1 ? "" : "s"}).`, "action");
  } catch (error) {
    ctx.feed(/** @type {Error} */ (error).message, "error");
  }
}

dashboard.addToolbarAction({
  key: "pause-exam",
  label: "Pause exam",
  danger: true,
  run(ctx) {
    const note = window.prompt("Pause the whole exam. What should the students read?", "Fire alarm: please leave the room.");
    if (note === null || !window.confirm(confirmText("Pause", ctx.exam?.title, inProgress(ctx).length))) return;
    act(ctx, { type: "pause", category: "environment", note }, `/api/proctor/exams/${ctx.examId}/pause/`, "Exam paused");
  },
});

dashboard.addToolbarAction({
  key: "resume-exam",
  label: "Resume exam",
  run(ctx) {
    if (!window.confirm(confirmText("Resume", ctx.exam?.title, inProgress(ctx).length))) return;
    act(ctx, { type: "resume" }, `/api/proctor/exams/${ctx.examId}/resume/`, "Exam resumed");
  },
});

dashboard.addToolbarAction({
  key: "change-time",
  label: "Extend all…",
  run(ctx) {
    const answer = window.prompt("Minutes to add to every attempt in progress (negative to take away):", "10");
    const amount = Number(answer);
    if (answer === null || !Number.isInteger(amount) || amount === 0) return;
    const verb = amount > 0 ? `Add ${amount} min to` : `Take ${-amount} min from`;
    if (!window.confirm(confirmText(verb, ctx.exam?.title, inProgress(ctx).length))) return;
    act(
      ctx,
      { type: "change_time", unit: "minutes", amount },
      `/api/proctor/exams/${ctx.examId}/time/`,
      `${verb} every attempt`,
    );
  },
});

dashboard.addRowAction({
  key: "pause",
  label: "Pause",
  applies: (row) => row.status === "ongoing" && !row.paused_at,
  run(row, ctx) {
    const note = window.prompt(`Pause ${row.student}'s attempt. What should they read?`, "");
    if (note === null) return;
    act(
      ctx,
      { type: "pause", category: "examinee", note, attempt_ids: [row.attempt_id] },
      `/api/proctor/exams/${ctx.examId}/pause/`,
      `Paused ${row.student}`,
    );
  },
});

dashboard.addRowAction({
  key: "resume",
  label: "Resume",
  applies: (row) => row.status === "ongoing" && Boolean(row.paused_at),
  run(row, ctx) {
    act(
      ctx,
      { type: "resume", attempt_ids: [row.attempt_id] },
      `/api/proctor/exams/${ctx.examId}/resume/`,
      `Resumed ${row.student}`,
    );
  },
});
