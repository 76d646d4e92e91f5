// @ts-check
// The exam room's state as each page holds it (pure: no DOM, tested with node --test): the
// announcements and question thread a student sees, and what proctors see of them. Frames may
// repeat (a push and a reply, a replay on reconnect): every update is by id, so applying the
// same frame twice changes nothing.

/** @typedef {import("./contract.js").StudentAnnouncement} StudentAnnouncement */
/** @typedef {import("./contract.js").RoomQuestion} RoomQuestion */
/** @typedef {import("./contract.js").ProctorAnnouncement} ProctorAnnouncement */
/** @typedef {import("./contract.js").ProctorRoomQuestion} ProctorRoomQuestion */
/** @typedef {import("./contract.js").IncidentRecord} IncidentRecord */

/** @param {{id: number}} a @param {{id: number}} b */
const byId = (a, b) => a.id - b.id;

/** What one student's page knows: announcements (with their acknowledgement) and their question thread. */
export class StudentRoomState {
  constructor() {
    /** @type {Map<number, StudentAnnouncement>} */
    this.announcements = new Map();
    /** @type {Map<number, RoomQuestion>} */
    this.questions = new Map();
  }

  /**
   * Apply a student socket frame (or a REST body of the same shape); false when it is not the room's.
   * @param {any} frame
   * @returns {boolean}
   */
  apply(frame) {
    switch (frame.type) {
      case "room":
        for (const a of frame.announcements) this.announcements.set(a.id, a);
        for (const q of frame.questions) this.putQuestion(q);
        return true;
      case "announcements": // the waiting room's replay: announcements only
        for (const a of frame.announcements) this.announcements.set(a.id, a);
        return true;
      case "announcement": {
        const known = this.announcements.get(frame.id);
        // A replay must not bring back one already acknowledged here.
        this.announcements.set(frame.id, { ...strip(frame), acknowledged_at: known?.acknowledged_at ?? frame.acknowledged_at });
        return true;
      }
      case "acknowledged":
        this.acknowledge(frame.announcement_id, frame.acknowledged_at);
        return true;
      case "question":
        this.putQuestion(strip(frame));
        return true;
      default:
        return false;
    }
  }

  /**
   * @param {number} id
   * @param {string} at
   */
  acknowledge(id, at) {
    const known = this.announcements.get(id);
    if (known && !known.acknowledged_at) this.announcements.set(id, { ...known, acknowledged_at: at });
  }

  /** @param {RoomQuestion} question */
  putQuestion(question) {
    const known = this.questions.get(question.id);
    // An answer never goes back to "unanswered" because an older frame arrived late.
    if (known && known.answered_at && (!question.answered_at || question.answered_at < known.answered_at)) return;
    this.questions.set(question.id, question);
  }

  /** @returns {StudentAnnouncement[]} not acknowledged yet, oldest first */
  get pending() {
    return [...this.announcements.values()].filter((a) => !a.acknowledged_at).sort(byId);
  }

  /** @returns {StudentAnnouncement[]} */
  get all() {
    return [...this.announcements.values()].sort(byId);
  }

  /** @returns {RoomQuestion[]} */
  get thread() {
    return [...this.questions.values()].sort(byId);
  }
}

/** What a proctor's dashboard knows of the room: announcements with who acknowledged, questions, incidents. */
export class ProctorRoomState {
  constructor() {
    /** @type {Map<number, ProctorAnnouncement>} */
    this.announcements = new Map();
    /** @type {Map<number, ProctorRoomQuestion>} */
    this.questions = new Map();
    /** @type {Map<number, IncidentRecord>} */
    this.incidents = new Map();
  }

  /**
   * Apply a proctor socket frame (or an ack of `announce` / `answer_question`); false when it is not the room's.
   * @param {any} frame
   * @returns {boolean}
   */
  apply(frame) {
    switch (frame.type) {
      case "room":
        for (const a of frame.announcements) this.putAnnouncement(a);
        for (const q of frame.questions) this.putQuestion(q);
        for (const i of frame.incidents) this.incidents.set(i.id, i);
        return true;
      case "announcement_sent":
        this.putAnnouncement(frame.announcement);
        return true;
      case "announcement_ack": {
        const known = this.announcements.get(frame.announcement_id);
        if (known && !known.acks.some((/** @type {{user_id: number}} */ a) => a.user_id === frame.ack.user_id)) {
          this.announcements.set(known.id, { ...known, acks: [...known.acks, frame.ack] });
        }
        return true;
      }
      case "question":
        this.putQuestion(frame.question);
        return true;
      case "incident":
        this.incidents.set(frame.incident.id, frame.incident);
        return true;
      case "ack":
        if (frame.action === "announce") this.putAnnouncement(strip(frame));
        else if (frame.action === "answer_question") this.putQuestion(strip(frame));
        else return false;
        return true;
      default:
        return false;
    }
  }

  /** @param {ProctorAnnouncement} announcement keeps every acknowledgement either copy has */
  putAnnouncement(announcement) {
    const known = this.announcements.get(announcement.id);
    const acks = new Map((known ? known.acks : []).map((a) => [a.user_id, a]));
    for (const a of announcement.acks) acks.set(a.user_id, a);
    const merged = [...acks.values()].sort((x, y) => (x.acknowledged_at < y.acknowledged_at ? -1 : 1));
    this.announcements.set(announcement.id, { ...announcement, acks: merged });
  }

  /** @param {ProctorRoomQuestion} question */
  putQuestion(question) {
    const known = this.questions.get(question.id);
    if (known && known.answered_at && (!question.answered_at || question.answered_at < known.answered_at)) return;
    this.questions.set(question.id, question);
  }

  /** @returns {ProctorAnnouncement[]} newest first */
  get announcementList() {
    return [...this.announcements.values()].sort(byId).reverse();
  }

  /** @returns {ProctorRoomQuestion[]} unanswered first (oldest first), then answered (newest first) */
  get inbox() {
    const all = [...this.questions.values()];
    const open = all.filter((q) => !q.answered_at).sort(byId);
    const done = all.filter((q) => q.answered_at).sort(byId).reverse();
    return [...open, ...done];
  }

  /** @returns {number} */
  get unanswered() {
    return [...this.questions.values()].filter((q) => !q.answered_at).length;
  }

  /** @returns {IncidentRecord[]} newest first */
  get incidentList() {
    return [...this.incidents.values()].sort(byId).reverse();
  }
}

/**
 * A frame's body without its socket envelope (`type`, `action`, `request_id`).
 * @template T
 * @param {T & {type?: string, action?: string, request_id?: any}} frame
 * @returns {any}
 */
function strip(frame) {
  const { type: _t, action: _a, request_id: _r, ...body } = frame;
  return body;
}
