// @ts-check
// The exam room on the proctor dashboard (issue 12 §2, §3): three panels (announcements with
// who acknowledged them, the students' questions, incidents) and a "Message…" row action,
// registered through dashboard.js. One room state per watched exam, fed by the proctor socket's
// frames; the panels themselves are announcements.js, questions-inbox.js and incidents.js.

import { AnnouncementsPanel } from "./announcements.js";
import { parseTime } from "./clock.js";
import { dashboard } from "./dashboard.js";
import { IncidentsPanel } from "./incidents.js";
import { QuestionsInbox } from "./questions-inbox.js";
import { ProctorRoomState } from "./room-state.js";

/** @typedef {import("./dashboard.js").DashboardContext} DashboardContext */
/**
 * What the panels use of the watched exam.
 * @typedef {object} ProctorRoomHooks
 * @property {number} examId
 * @property {import("./api.js").Session} session
 * @property {(message: object, restPath: string, restBody?: object) => Promise<any>} act a socket action, REST when it is down
 * @property {() => import("./contract.js").AttemptRow[]} rows the table's rows now
 * @property {(iso: string) => number} parseTime
 * @property {(text: string, kind: string) => void} feed
 * @property {() => import("./dashboard.js").NotStartedStudent[]} notStarted enrolled students without an attempt (enrolled.js)
 */
/** @typedef {{root: HTMLElement, render: () => void}} RoomPanel */

// The table's rows change with every answer saved: the panels follow them at most this often.
const ROWS_RENDER_MS = 500;

class Room {
  /** @param {DashboardContext} ctx */
  constructor(ctx) {
    this.ctx = ctx;
    this.state = new ProctorRoomState();
    /** @type {ProctorRoomHooks} */
    this.hooks = {
      examId: ctx.examId,
      session: ctx.session,
      act: (message, restPath, restBody) => ctx.send(/** @type {Record<string, any>} */ (message), restPath, restBody),
      rows: () => [...ctx.rows.values()],
      parseTime,
      feed: (text, kind) => ctx.feed(text, kind),
      notStarted: () => this.notStarted,
    };
    /** @type {import("./dashboard.js").NotStartedStudent[]} */
    this.notStarted = [];
    /** @type {Map<string, RoomPanel>} */
    this.panels = new Map();
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.pending = null;
  }

  /**
   * @param {string} key
   * @param {RoomPanel} panel
   * @param {HTMLElement} container
   */
  mount(key, panel, container) {
    this.panels.set(key, panel);
    container.append(panel.root);
    panel.render();
  }

  render() {
    for (const panel of this.panels.values()) panel.render();
    this.ctx.badge("questions", this.state.unanswered || null);
  }

  renderSoon() {
    if (this.pending !== null) return;
    this.pending = setTimeout(() => {
      this.pending = null;
      this.render();
    }, ROWS_RENDER_MS);
  }

  /** @param {any} frame */
  handle(frame) {
    if (frame.type === "ack") return; // the panel that sent the action applies its reply
    const asked = frame.type === "question" && !frame.question.answered_at && !this.state.questions.has(frame.question.id);
    if (!this.state.apply(frame)) return;
    if (asked) this.ctx.feed(`${frame.question.student} asked: “${frame.question.text}”`, "question");
    this.render();
  }
}

/** @type {WeakMap<DashboardContext, Room>} */
const rooms = new WeakMap();

/**
 * @param {DashboardContext} ctx
 * @returns {Room}
 */
function roomOf(ctx) {
  let room = rooms.get(ctx);
  if (!room) rooms.set(ctx, (room = new Room(ctx)));
  return room;
}

dashboard.addPanel({
  key: "announcements",
  title: "Announcements",
  order: 30,
  mount(container, ctx) {
    const room = roomOf(ctx);
    room.mount("announcements", new AnnouncementsPanel(room.hooks, room.state, () => room.render()), container);
  },
});

dashboard.addPanel({
  key: "questions",
  title: "Questions",
  order: 31,
  mount(container, ctx) {
    const room = roomOf(ctx);
    room.mount("questions", new QuestionsInbox(room.hooks, room.state, () => room.render()), container);
  },
});

dashboard.addPanel({
  key: "incidents",
  title: "Incidents",
  order: 32,
  mount(container, ctx) {
    const room = roomOf(ctx);
    room.mount("incidents", new IncidentsPanel(room.hooks, room.state, () => room.render()), container);
  },
});

dashboard.addRowAction({
  key: "message",
  label: "Message…",
  ariaLabel: (row) => `Send ${row.student} an announcement`,
  applies: (row) => row.status === "ongoing",
  run(row, ctx) {
    const panel = roomOf(ctx).panels.get("announcements");
    if (panel instanceof AnnouncementsPanel) panel.writeTo(row.attempt_id);
  },
});

dashboard.on("frame", (frame, ctx) => rooms.get(ctx)?.handle(frame));
dashboard.on("notStarted", (ctx, students) => {
  const room = roomOf(ctx);
  room.notStarted = students;
  room.renderSoon();
});
dashboard.on("messageStudent", (ctx, student) => {
  const panel = roomOf(ctx).panels.get("announcements");
  if (panel instanceof AnnouncementsPanel) panel.writeToUser(student.user_id);
});
dashboard.on("rows", (ctx) => rooms.get(ctx)?.renderSoon());
