// @ts-check
// Types only: the server's REST bodies and socket frames as the pages read them (the fields
// they use; the repository's API documentation lists every field). Nothing here runs.

/** @typedef {"ongoing" | "overdue" | "completed" | "timeout"} AttemptStatus  overdue: in its hand-in window (answers locked, submit taken) */

/**
 * An attempt's clock: REST `/remaining`, `start`, `questions`, and the socket's `timer` frame.
 * @typedef {object} Timer
 * @property {number} attempt_id
 * @property {AttemptStatus} status
 * @property {number} remaining_seconds
 * @property {string} deadline
 * @property {string} server_time
 * @property {string} [hand_in_until] only while overdue
 * @property {string} [paused_at] only while a proctor has paused it: `remaining_seconds` stands still
 */

/**
 * @typedef {object} Question
 * @property {number} id
 * @property {string} text
 * @property {Record<string, string>} options option key -> text
 * @property {number} points
 * @property {string | null} [selected_option] absent once the attempt has ended, unless the review policy shows answers
 */

/** @typedef {Timer & {exam_id: number, exam_title: string, questions: Question[]}} QuestionsBody */

/** @typedef {"score" | "answers" | "correct"} ReviewShows */

/**
 * What a result shows under the exam's review policy, and what more it will show when.
 * @typedef {object} Review
 * @property {ReviewShows} shows
 * @property {ReviewShows} [later]
 * @property {"exam_closed" | "release" | "last_attempt"} [waits_for]
 */

/**
 * @typedef {object} ResultRow
 * @property {number} question_id
 * @property {string | null} [selected_option] when `review.shows` is `answers` or `correct`
 * @property {string} [correct_option] when `review.shows` is `correct`
 * @property {boolean} [is_correct] when `review.shows` is `correct`
 */

/**
 * The result of an ended attempt (`submit`, `force-submit`).
 * @typedef {object} Result
 * @property {number} attempt_id
 * @property {AttemptStatus} status
 * @property {number} score
 * @property {number} max_score
 * @property {number} percentage
 * @property {number} answered
 * @property {number} total_questions
 * @property {ResultRow[]} results
 * @property {Review} review
 * @property {EndedBy} ended_by
 */

/**
 * What an exam's students see of an ended attempt, and when.
 * @typedef {object} ReviewPolicy
 * @property {ReviewShows} shows
 * @property {"at_once" | "closed" | "released"} when
 * @property {string | null} released_at
 */

/**
 * @typedef {object} ExamSummary
 * @property {number} id
 * @property {string} title
 * @property {string} description
 * @property {number} duration_seconds
 * @property {number} max_attempts
 * @property {string | null} closes_at
 * @property {number} total_questions
 * @property {ReviewPolicy} review_policy
 * @property {boolean} [waiting_room] students start together from the waiting room (waiting.js)
 * @property {string | null} [starts_at] the waiting room's start instant, once known
 */

/** @typedef {"student" | "proctor" | "time" | null} EndedBy  who ended an attempt: null while ongoing */
/** @typedef {Timer & {number: number, score: number | null, max_score: number | null, ended_by: EndedBy}} PastAttempt */
/**
 * `GET /api/exams/`: with the student's attempts, and the time an attempt started now gets (their
 * accommodation applied; `accommodation_seconds` of it) and their close (their override, else the exam's).
 * @typedef {ExamSummary & {attempts: PastAttempt[], allotted_seconds: number, accommodation_seconds: number, student_close_at: string | null}} StudentExam
 */
/** @typedef {ExamSummary & {published: boolean, ongoing: number}} ProctorExam  `GET /api/proctor/exams/` */

/**
 * One row of the proctor's table (REST and the proctor socket).
 * @typedef {Timer & {
 *   exam_id: number, student: string, answered: number, total_questions: number, connected: boolean,
 *   started_at: string, ended_at: string | null, extra_seconds: number, score: number | null,
 *   max_score: number | null, last_activity: string, last_answer_at: string | null, hand_in_until?: string,
 *   allotted_seconds: number, accommodation_seconds: number, close_at: string | null
 * }} AttemptRow
 */

/**
 * `POST /api/proctor/exams/<id>/force-submit/`: the attempts this call ended, and the rows of all it was given.
 * @typedef {{exam_id: number, submitted: number[], attempts: AttemptRow[]}} BulkForceSubmitted
 */

/**
 * An announcement as its student sees it (the student socket's `announcement`, `room`; REST's room).
 * @typedef {object} StudentAnnouncement
 * @property {number} id
 * @property {number} exam_id
 * @property {string} message
 * @property {"exam" | "student"} to
 * @property {string} sent_at
 * @property {string | null} by
 * @property {string | null} acknowledged_at null: show it until acknowledged
 */

/**
 * A student's question and its answer.
 * @typedef {object} RoomQuestion
 * @property {number} id
 * @property {number} attempt_id
 * @property {string} text
 * @property {string} asked_at
 * @property {string | null} answer
 * @property {string | null} answered_at
 */

/** @typedef {RoomQuestion & {student: string, answered_by: string | null}} ProctorRoomQuestion */

/**
 * @typedef {object} AnnouncementAckRow
 * @property {number} user_id
 * @property {string} student
 * @property {string} acknowledged_at
 */

/**
 * An announcement as proctors see it.
 * @typedef {object} ProctorAnnouncement
 * @property {number} id
 * @property {number} exam_id
 * @property {string} message
 * @property {"exam" | "student"} to
 * @property {string | null} student the one student it is for
 * @property {string} sent_at
 * @property {string | null} by
 * @property {number} recipients
 * @property {AnnouncementAckRow[]} acks
 */

/**
 * @typedef {object} IncidentRecord
 * @property {number} id
 * @property {number} exam_id
 * @property {number | null} attempt_id null: the whole exam
 * @property {string | null} student
 * @property {"environment" | "examinee" | "technical" | "staff" | "other"} category
 * @property {string} note
 * @property {number} granted_seconds
 * @property {string} recorded_at
 * @property {string | null} by
 */

/**
 * What the student's socket says.
 * @typedef {(Timer & {type: "timer"})
 *   | (Timer & {type: "paused"})
 *   | (Timer & {type: "resumed", paused_ms: number})
 *   | (Timer & {type: "extended", added_seconds: number})
 *   | (Timer & {type: "paused", category: string, note: string})
 *   | (Timer & {type: "resumed", paused_ms: number})
 *   | (Timer & {type: "reopened"})
 *   | {type: "timeout" | "submitted"}
 *   | {type: "answer_saved", question_id: number, selected_option: string | null, saved_at: string, request_id?: string}
 *   | {type: "error", code: string, message: string, request_id?: string}
 *   | {type: "room", attempt_id: number, announcements: StudentAnnouncement[], questions: RoomQuestion[]}
 *   | (StudentAnnouncement & {type: "announcement"})
 *   | {type: "acknowledged", announcement_id: number, acknowledged_at: string, request_id?: string}
 *   | (RoomQuestion & {type: "question", request_id?: string})} StudentFrame
 */

/**
 * @typedef {"attempt_started" | "answer_saved" | "attempt_extended" | "attempt_submitted" | "attempt_timeout"
 *   | "attempt_overdue" | "attempt_paused" | "attempt_resumed" | "time_changed" | "attempt_reopened"
 *   | "student_connected" | "student_disconnected"} AttemptEventType
 */

/**
 * What the proctor's socket says: a snapshot, replies to the proctor's actions, and events about one attempt.
 * @typedef {{type: "snapshot", exam_id: number, since: string | null, columns: (keyof AttemptRow)[], rows: unknown[][]}
 *   | {type: "ack", request_id: string, action: "extend" | "force_submit" | "announce" | "answer_question"
 *      | "pause" | "resume" | "change_time" | "reopen"}
 *   | {type: "exam_paused" | "exam_resumed", exam_id: number, paused_at: string | null, category: string | null,
 *      note: string, closes_at: string | null}
 *   | {type: "error", code: string, message: string, request_id?: string}
 *   | {type: AttemptEventType, attempt: AttemptRow}
 *   | {type: "room", announcements: ProctorAnnouncement[], questions: ProctorRoomQuestion[], incidents: IncidentRecord[]}
 *   | {type: "announcement_sent", announcement: ProctorAnnouncement}
 *   | {type: "announcement_ack", announcement_id: number, ack: AnnouncementAckRow, acknowledged: number}
 *   | {type: "question", question: ProctorRoomQuestion}
 *   | {type: "incident", incident: IncidentRecord}} ProctorFrame
 */

/**
 * A snapshot's rows as objects: each of `rows` holds one attempt's values in the order `columns` names them.
 * @param {{columns: (keyof AttemptRow)[], rows: unknown[][]}} frame
 * @returns {AttemptRow[]}
 */
export function snapshotRows(frame) {
  const { columns, rows } = frame;
  return rows.map((values) => {
    /** @type {Record<string, unknown>} */
    const row = {};
    for (let i = 0; i < columns.length; i++) row[columns[i]] = values[i];
    return /** @type {AttemptRow} */ (row);
  });
}

/**
 * Where a proctor socket that reconnects resumes from (its `?since=`): the newest `server_time`
 * among the rows the page holds, which were all current then. Null with no rows: a full snapshot.
 * @param {Iterable<AttemptRow>} rows
 * @returns {string | null}
 */
export function resumeFrom(rows) {
  let newest = null;
  let newestMs = -Infinity;
  for (const row of rows) {
    const ms = Date.parse(row.server_time);
    if (ms > newestMs) [newest, newestMs] = [row.server_time, ms];
  }
  return newest;
}
