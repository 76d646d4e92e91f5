// @ts-check
// The student page's hook points. A feature module (a waiting room, announcements, a paused
// screen, an accommodation line) registers here when it is imported by student.js, and the
// page calls it at the right moment; the feature never edits student.js's flow itself.
//
//   registerPreStart(handler)  the instructions page, before the clock starts: take over the start
//   onAttemptOpen(handler)     an attempt's screen opened (return a cleanup for when it closes)
//   onFrame(type, handler)     a socket frame of `type` arrived on the open attempt's socket
//   registerInstructionsLine   an extra line on the instructions page (e.g. accommodation)
//
// Banners and overlays (what the student must see over the questions) live in banners.js.

/** @typedef {import("./contract.js").StudentExam} StudentExam */
/**
 * What an open attempt offers to the modules: its ids, its socket and the page's clients.
 * @typedef {object} AttemptContext
 * @property {number} attemptId
 * @property {number} examId
 * @property {import("./socket.js").LiveSocket} socket
 * @property {import("./api.js").Session} session
 * @property {import("./clock.js").ServerClock} clock
 * @property {(locked: boolean) => void} setLocked lock or unlock the answers (e.g. while paused); ORed with the page's own lock
 * @property {() => void} refresh ask the server again for the attempt's time (after a pause, say)
 */
/**
 * The instructions page, before the attempt starts.
 * @typedef {object} PreStartContext
 * @property {StudentExam} exam
 * @property {HTMLElement} slot an empty element under the rules, for the module's own content
 * @property {HTMLButtonElement} startButton the page's "Start" button (hide or disable it to take over)
 * @property {(body?: object) => Promise<void>} start start (or join) the attempt now and open it; `body` goes to POST start
 * @property {(attemptId: number) => void} open open an attempt the module already has (started by the server)
 * @property {import("./api.js").Session} session
 * @property {import("./clock.js").ServerClock} clock
 */
/** @typedef {(context: PreStartContext) => (() => void) | void} PreStartHandler  returns a cleanup for when the page is left */
/** @typedef {(context: AttemptContext) => (() => void) | void} OpenHandler */
/** @typedef {(context: AttemptContext, frame: any, receivedAt: number) => void} FrameHandler */
/** @typedef {(exam: StudentExam) => string | null} LineHandler */

/** @type {PreStartHandler[]} */
const preStarts = [];
/** @type {OpenHandler[]} */
const openers = [];
/** @type {Map<string, FrameHandler[]>} */
const frames = new Map();
/** @type {LineHandler[]} */
const lines = [];

/**
 * A module's part of the instructions page (called each time it is shown, in registration order).
 * @param {PreStartHandler} handler
 * @returns {void}
 */
export function registerPreStart(handler) {
  preStarts.push(handler);
}

/**
 * Called each time an attempt's screen opens; the function it returns runs when the screen closes.
 * @param {OpenHandler} handler
 * @returns {void}
 */
export function onAttemptOpen(handler) {
  openers.push(handler);
}

/**
 * Called for each frame of `type` on the open attempt's socket (after the page's own handling, if any).
 * @param {string} type
 * @param {FrameHandler} handler
 * @returns {void}
 */
export function onFrame(type, handler) {
  frames.set(type, [...(frames.get(type) || []), handler]);
}

/**
 * An extra line under the duration on the instructions page (null: nothing to say for this exam).
 * @param {LineHandler} handler
 * @returns {void}
 */
export function registerInstructionsLine(handler) {
  lines.push(handler);
}

// --- Called by student.js ---------------------------------------------------------------------

/**
 * @param {PreStartContext} context
 * @returns {() => void} undoes what the handlers did
 */
export function runPreStart(context) {
  return cleanupAll(preStarts.map((handler) => guarded(() => handler(context))));
}

/**
 * @param {AttemptContext} context
 * @returns {() => void}
 */
export function runAttemptOpen(context) {
  return cleanupAll(openers.map((handler) => guarded(() => handler(context))));
}

/**
 * @param {AttemptContext} context
 * @param {any} frame
 * @param {number} receivedAt monotonic
 * @returns {boolean} whether any module handles this type
 */
export function dispatchFrame(context, frame, receivedAt) {
  const handlers = frames.get(frame && frame.type) || [];
  for (const handler of handlers) guarded(() => handler(context, frame, receivedAt));
  return handlers.length > 0;
}

/**
 * @param {StudentExam} exam
 * @returns {string[]}
 */
export function instructionsLines(exam) {
  /** @type {string[]} */
  const texts = [];
  for (const line of lines) {
    const text = guarded(() => line(exam));
    if (typeof text === "string" && text !== "") texts.push(text);
  }
  return texts;
}

/**
 * One module's failure must not break the page: log it and carry on.
 * @template T
 * @param {() => T} call
 * @returns {T | undefined}
 */
function guarded(call) {
  try {
    return call();
  } catch (error) {
    console.warn("a student page module failed", error);
    return undefined;
  }
}

/**
 * @param {unknown[]} cleanups
 * @returns {() => void}
 */
function cleanupAll(cleanups) {
  return () => {
    for (const cleanup of cleanups) if (typeof cleanup === "function") guarded(() => cleanup());
  };
}
