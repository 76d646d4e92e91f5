// @ts-check
// The proctor dashboard, the page's one entry point: the exam picker, the proctor socket, the
// virtualized table of attempts with its summary bar and selection, the side panels, and the
// feature modules imported below, which plug in through dashboard.js's hook points.

import { Session } from "./api.js";
import { AttemptsTable } from "./attempts-table.js";
import { ServerClock, msUntilNextChange } from "./clock.js";
import { resumeFrom, snapshotRows } from "./contract.js";
import { dashboard } from "./dashboard.js";
import { $, el, showError, showView } from "./dom.js";
import { canRelease, describePolicy } from "./review.js";
import { summarize, unfinished } from "./row-state.js";
import { bindSignIn, loadUser, showSignIn } from "./signin.js";
import { LiveSocket } from "./socket.js";
import { addFeed } from "./feed.js";
import { openBulk, renderSelection } from "./bulk.js";
// Feature modules: each registers its columns, actions and panels on import.
import "./alerts.js";
import "./actions.js";
import "./exports.js";
import "./enrolled.js";
import "./bulk-time.js";
import "./proctor-room.js";
import "./start-control.js";
import "./time-control.js";
import "./audit.js";

/** @typedef {import("./contract.js").AttemptRow} AttemptRow */
/** @typedef {import("./contract.js").ProctorExam} ProctorExam */
/** @typedef {import("./contract.js").ProctorFrame} ProctorFrame */
/** @typedef {import("./dashboard.js").DashboardContext} DashboardContext */
/** @typedef {{resolve: (reply: any) => void, reject: (error: any) => void}} PendingRequest */
/**
 * The watched exam: everything its dashboard runs, made at once in watchExam.
 * @typedef {object} WatchedExam
 * @property {number} id
 * @property {AttemptsTable} table
 * @property {LiveSocket} socket
 * @property {DashboardContext} ctx what feature modules see of it
 * @property {Map<string, PendingRequest>} requests the proctor's actions waiting for the socket's reply, by request id
 * @property {number} ticker the timeout that next counts the table's times down
 * @property {boolean} snapshotSeen the socket has sent a snapshot (a later REST list must not overwrite it)
 * @property {number | null} notStarted enrolled students without an attempt, when a module knows
 */

const ACK_TIMEOUT_MS = 8000;
// Just past a second boundary, so the displayed second has changed when the table redraws.
const TICK_SLACK_MS = 15;

const session = new Session("exam.proctor.tokens");
// Exported so that a test in the page can read the time the table counts on.
export const clock = new ServerClock();
session.now = () => clock.now();
session.onExpired = (/** @type {import("./api.js").ApiError} */ error) => {
  closeExam();
  showSignIn(error.message);
};

/** @type {WatchedExam | null} */
let exam = null;
/** @type {Map<number, ProctorExam>} the exams of the picker, by id */
const examsById = new Map();
const order = { key: "student", direction: 1 }; // the proctor's sort, kept across exams
let nextRequest = 0;

// --- Routing ---------------------------------------------------------------------------------

async function route() {
  if (!session.signedIn) return showSignIn();
  let me;
  try {
    me = await loadUser(session, signedOut);
  } catch (error) {
    if (error.status !== 401) {
      showView("dashboard");
      showError($("#dashboard-error"), error.message);
    }
    return;
  }
  if (!me.is_staff) return showDenied(`You are signed in as ${me.username}, which is not a proctor account.`);
  showView("dashboard");
  if (!(await loadExams())) return;
  const match = location.hash.match(/^#exam-(\d+)$/);
  if (match) {
    $("#exam-select", HTMLSelectElement).value = match[1];
    watchExam(Number(match[1]));
  }
}

function signedOut() {
  closeExam();
  history.replaceState(null, "", location.pathname);
  showSignIn();
}

/** @param {string} message */
function showDenied(message) {
  closeExam();
  showView("denied");
  $("#denied-message").textContent = `${message} Only proctors (staff users) can watch exams; sign in with a proctor account.`;
}

/** @returns {Promise<boolean>} whether the exam picker could be filled */
async function loadExams() {
  /** @type {ProctorExam[]} */
  let exams;
  try {
    ({ exams } = await session.get("/api/proctor/exams/"));
  } catch (error) {
    if (error.status === 403) showDenied("This account is not a proctor account.");
    else if (error.status !== 401) showError($("#dashboard-error"), `Could not load the exams: ${error.message}`);
    return false;
  }
  examsById.clear();
  for (const e of exams) examsById.set(e.id, e);
  const select = $("#exam-select");
  select.replaceChildren(
    el("option", { value: "" }, exams.length ? "Choose an exam…" : "No exams yet"),
    ...exams.map((e) => el("option", { value: String(e.id) },
      `${e.title} — ${e.ongoing} in progress${e.published ? "" : " (not published)"}`)),
  );
  return true;
}

// --- Watching one exam ---------------------------------------------------------------------------

/** @param {number} id 0 for none */
function watchExam(id) {
  closeExam();
  showError($("#dashboard-error"), "");
  if (!id) {
    $("#exam-panel").hidden = true;
    history.replaceState(null, "", location.pathname);
    return;
  }
  history.replaceState(null, "", `#exam-${id}`);
  $("#exam-panel").hidden = false;
  renderReview(id);
  $("#filter-status", HTMLSelectElement).value = "";
  const table = new AttemptsTable({
    clock,
    scroller: $("#table-scroll"),
    table: $("#attempts-table", HTMLTableElement),
    columns: dashboard.columns,
    rowActions: dashboard.rowActions,
    onAction: (action, row) => exam && action.run(row, exam.ctx),
    filter: () => ({ text: $("#filter-text", HTMLInputElement).value, status: $("#filter-status", HTMLSelectElement).value }),
    onSelection: () => exam && renderSelection(exam.ctx, exam.table),
    onRender: (resorted) => exam && afterRender(exam, resorted),
    order,
  });
  /** @type {WatchedExam} */
  const watched = {
    id,
    table,
    socket: new LiveSocket({
      // Once the socket's snapshot is in, a reconnect asks only for the rows changed since.
      path: () => {
        const since = watched.snapshotSeen ? resumeFrom(watched.table.rows.values()) : null;
        return `/ws/proctor/exams/${id}/${since ? `?since=${encodeURIComponent(since)}` : ""}`;
      },
      session,
      onMessage: (message, at) => onMessage(watched, message, at),
      onStatus: onSocketStatus,
      messages: { forbidden: "Only proctors (staff users) can watch an exam.", notFound: "This exam no longer exists." },
    }),
    ctx: /** @type {any} */ (null),
    requests: new Map(),
    ticker: 0,
    snapshotSeen: false,
    notStarted: null,
  };
  watched.ctx = contextOf(watched);
  exam = watched;
  fillSortSelect(table);
  mountPanels(watched.ctx);
  renderToolbar(watched.ctx);
  dashboard.emit("exam", watched.ctx);
  watched.socket.start();
  table.render();
  tick(watched);
  measureClock(watched);
}

/**
 * What feature modules see of the watched exam.
 * @param {WatchedExam} watched
 * @returns {DashboardContext}
 */
function contextOf(watched) {
  const { table } = watched;
  return {
    examId: watched.id,
    exam: examsById.get(watched.id),
    session,
    clock,
    rows: table.rows,
    offlineSeen: table.offlineSeen,
    upsert: (row) => {
      table.upsert(row);
      dashboard.emit("rows", watched.ctx);
    },
    send: (message, restPath, restBody) => act(watched, message, restPath, restBody),
    feed: (text, kind = "info") => addFeed(text, kind),
    badge: (key, count) => {
      const badge = document.querySelector(`#panel-tabs [data-panel="${key}"] .tab-badge`);
      if (badge) badge.textContent = count === null ? "" : String(count);
    },
    showOnly: (filter) => {
      $("#filter-status", HTMLSelectElement).value = filter;
      table.schedule(true);
    },
    reveal: (attemptId) => {
      $("#filter-text", HTMLInputElement).value = "";
      $("#filter-status", HTMLSelectElement).value = "";
      table.schedule(true);
      table.render();
      table.reveal(attemptId);
    },
    select: (attemptIds) => table.select(attemptIds),
    setNotStarted: (n) => {
      watched.notStarted = n;
      renderSummary(watched);
    },
  };
}

function closeExam() {
  if (!exam) return;
  exam.socket.stop();
  clearTimeout(exam.ticker);
  for (const request of exam.requests.values()) request.reject(new Error("Stopped watching this exam."));
  exam = null;
  dashboard.emit("exam", null);
}

/**
 * Count the times in view down, waking when the next one's whole seconds change (on the
 * server's second boundary, as the student's countdown does), not on a free-running interval.
 * @param {WatchedExam} watched
 */
function tick(watched) {
  clearTimeout(watched.ticker);
  if (exam !== watched) return;
  watched.table.tick();
  const delay = msUntilNextChange(watched.table.visibleDeadlines(), clock.now()) + TICK_SLACK_MS;
  watched.ticker = setTimeout(() => tick(watched), delay);
}

/**
 * @param {WatchedExam} watched
 * @param {boolean} resorted the rows changed (not only the scroll position)
 */
function afterRender(watched, resorted) {
  if (!resorted) return rearm(watched); // scrolled: the rows drawn are fresh, only their wake changes
  renderSummary(watched);
  const { table } = watched;
  const empty = $("#no-rows");
  empty.hidden = table.view.length > 0;
  empty.textContent = table.rows.size ? "No attempts match the filter." : "No attempts yet. They appear here as soon as students start.";
  $("#sort-select", HTMLSelectElement).value = table.order.key;
  // Rows in view changed: the next wake follows their deadlines.
  tick(watched);
}

/**
 * Wake at the next second boundary of the rows now in view, without redrawing them.
 * @param {WatchedExam} watched
 */
function rearm(watched) {
  clearTimeout(watched.ticker);
  const delay = msUntilNextChange(watched.table.visibleDeadlines(), clock.now()) + TICK_SLACK_MS;
  watched.ticker = setTimeout(() => tick(watched), delay);
}

/**
 * The summary bar: each count is a button that shows those rows.
 * @param {WatchedExam} watched
 */
function renderSummary(watched) {
  const sum = summarize(watched.table.rows.values(), watched.table.offlineSeen, clock.now());
  /** @type {[string, string, number | null, string][]} filter, label, count, kind */
  const items = [
    ["", "Not started", watched.notStarted, "neutral"],
    ["ongoing", "In progress", sum.ongoing, "neutral"],
    ["connected", "Connected", sum.connected, "ok"],
    ["offline", "Offline > 60 s", sum.offline, sum.offline ? "danger" : "neutral"],
    ["idle", "No answer > 10 min", sum.idle, sum.idle ? "warn" : "neutral"],
    ["finished", "Finished", sum.finished, "neutral"],
  ];
  const current = $("#filter-status", HTMLSelectElement).value;
  $("#summary").replaceChildren(...items.map(([filter, label, count, kind]) => {
    const text = [el("span", { class: "count" }, count === null ? "–" : String(count)), " ", el("span", { class: "label" }, label)];
    if (label === "Not started") return el("span", { class: "summary-item", dataset: { key: "not-started", kind } }, text);
    return el("button", {
      type: "button",
      class: "summary-item",
      dataset: { key: filter, kind },
      "aria-pressed": String(current === filter),
      onclick: () => watched.ctx.showOnly(current === filter ? "" : filter),
    }, text);
  }));
}

/** @param {AttemptsTable} table */
function fillSortSelect(table) {
  $("#sort-select", HTMLSelectElement).replaceChildren(
    el("option", { value: "student" }, "Student"),
    ...table.columns.filter((c) => c.sort).map((c) => el("option", { value: c.key }, c.label)),
  );
}

/**
 * The side panel's tabs, one per registered panel; each mounted afresh for the exam.
 * @param {DashboardContext} ctx
 */
function mountPanels(ctx) {
  const tabs = $("#panel-tabs");
  const bodies = $("#panel-bodies");
  tabs.replaceChildren();
  bodies.replaceChildren();
  const show = (/** @type {string} */ key) => {
    for (const tab of tabs.querySelectorAll("[role=tab]")) tab.setAttribute("aria-selected", String(tab instanceof HTMLElement && tab.dataset.panel === key));
    for (const body of bodies.children) if (body instanceof HTMLElement) body.hidden = body.dataset.panel !== key;
  };
  for (const panel of dashboard.panels) {
    const body = el("div", { role: "tabpanel", id: `panel-${panel.key}`, dataset: { panel: panel.key }, "aria-labelledby": `tab-${panel.key}` });
    tabs.append(el("button", {
      type: "button", role: "tab", id: `tab-${panel.key}`, "aria-controls": `panel-${panel.key}`, dataset: { panel: panel.key },
      onclick: () => show(panel.key),
    }, panel.title, el("span", { class: "tab-badge" })));
    bodies.append(body);
    try {
      panel.mount(body, ctx);
    } catch (error) {
      console.error(`The ${panel.key} panel failed`, error);
    }
  }
  if (dashboard.panels[0]) show(dashboard.panels[0].key);
}

/**
 * The exam-wide actions registered by feature modules.
 * @param {DashboardContext} ctx
 */
function renderToolbar(ctx) {
  $("#exam-actions").replaceChildren(...dashboard.toolbarActions
    .filter((action) => !action.visible || action.visible(ctx))
    .map((action) => el("button", {
      type: "button",
      class: action.danger ? "small danger" : "small",
      dataset: { action: action.key },
      onclick: () => exam && action.run(exam.ctx),
    }, action.label)));
}

/**
 * The same rows over REST: a round trip the clock can learn from, and a table before the socket is up.
 * @param {WatchedExam} watched
 */
async function measureClock(watched) {
  try {
    const reply = await session.get(`/api/proctor/exams/${watched.id}/attempts/`, { timed: true });
    const first = reply.data.attempts[0];
    if (first) clock.addSample(first.server_time, reply.received, reply.sent);
    if (exam === watched && !watched.snapshotSeen) watched.table.setRows(reply.data.attempts);
  } catch (error) {
    if (exam === watched && error.status === 404) showError($("#dashboard-error"), error.message);
  }
}

/**
 * @param {WatchedExam} watched
 * @param {ProctorFrame} message
 * @param {number} receivedAt monotonic
 */
function onMessage(watched, message, receivedAt) {
  if (exam !== watched) return;
  /** @type {AttemptRow | undefined} */
  let before;
  if (message.type === "snapshot") {
    if (watched.snapshotSeen) addFeed("Reconnected: the table is up to date again.", "info");
    watched.snapshotSeen = true;
    const rows = snapshotRows(message);
    if (rows[0]) clock.addSample(rows[0].server_time, receivedAt);
    // `since`: only the rows changed while the socket was away; the others stand.
    if (message.since === null) watched.table.setRows(rows);
    else for (const row of rows) watched.table.upsert(row);
  } else if (message.type === "ack" || message.type === "error") {
    const request = message.request_id === undefined ? undefined : watched.requests.get(message.request_id);
    if (request) request[message.type === "ack" ? "resolve" : "reject"](message);
    else if (message.type === "error") addFeed(`Server: ${message.message}`, "error");
  } else if ("attempt" in message && message.attempt) {
    clock.addSample(message.attempt.server_time, receivedAt);
    before = watched.table.upsert(message.attempt);
  }
  dashboard.emit("frame", message, watched.ctx, before);
  if (message.type === "snapshot" || "attempt" in message) {
    dashboard.emit("rows", watched.ctx);
    relabelExam(watched);
  }
}

/**
 * @param {"connecting" | "live" | "waiting" | "failed"} state
 * @param {{retryInMs?: number, message?: string}} detail
 */
function onSocketStatus(state, detail) {
  const box = $("#connection");
  box.dataset.state = state;
  /** @type {Record<string, string>} */
  const texts = {
    connecting: "Connecting…",
    live: "Live",
    waiting: `Reconnecting in ${Math.ceil((detail.retryInMs || 0) / 1000)} s…`,
    failed: "Disconnected",
  };
  box.textContent = texts[state] || "";
  if (state === "failed") showError($("#dashboard-error"), detail.message);
}

/**
 * Keep the exam picker's "N in progress" current.
 * @param {WatchedExam} watched
 */
function relabelExam(watched) {
  const option = document.querySelector(`#exam-select option[value="${watched.id}"]`);
  let ongoing = 0;
  for (const row of watched.table.rows.values()) if (unfinished(row)) ongoing++;
  if (!option) return;
  // Written only when it changes: every row event comes here, and a write costs a style pass.
  const label = option.textContent.replace(/ — \d+ in progress/, ` — ${ongoing} in progress`);
  if (label !== option.textContent) option.textContent = label;
}

/**
 * Send a proctor action over the socket (REST when it is down and a REST path is given);
 * resolves with the server's reply.
 * @param {WatchedExam} watched
 * @param {Record<string, any>} message
 * @param {string} [restPath]
 * @param {object} [restBody]
 * @returns {Promise<any>}
 */
function act(watched, message, restPath, restBody) {
  if (!watched.socket.isLive) {
    if (restPath) return session.post(restPath, restBody);
    return Promise.reject(new Error("Not connected to the server; try again in a moment."));
  }
  const requestId = `p${++nextRequest}`;
  return new Promise((resolve, reject) => {
    const done = (/** @type {(value: any) => void} */ settle) => (/** @type {any} */ value) => {
      clearTimeout(timer);
      watched.requests.delete(requestId);
      settle(value);
    };
    // Not retried automatically: an extension that did arrive must not be granted twice.
    const timer = setTimeout(() => done(reject)(new Error("No answer from the server; check the table before trying again.")), ACK_TIMEOUT_MS);
    watched.requests.set(requestId, { resolve: done(resolve), reject: done(reject) });
    watched.socket.send({ ...message, request_id: requestId });
  });
}

// --- The review: what the exam's students see after ending, and its release ------------------------

/** @param {number} id the watched exam */
function renderReview(id) {
  const watchedExam = examsById.get(id);
  $("#review-policy").textContent = watchedExam ? describePolicy(watchedExam.review_policy, watchedExam.closes_at) : "";
  $("#release-button").hidden = !watchedExam || !canRelease(watchedExam.review_policy);
}

function openRelease() {
  const watchedExam = exam && examsById.get(exam.id);
  if (!watchedExam) return;
  $("#release-exam").textContent = watchedExam.title;
  showError($("#release-error"), "");
  $("#release-dialog", HTMLDialogElement).showModal();
}

/** @param {SubmitEvent} event */
async function submitRelease(event) {
  event.preventDefault();
  const dialog = $("#release-dialog", HTMLDialogElement);
  const watched = exam;
  if (!watched) return showError($("#release-error"), "Choose an exam first.");
  const button = /** @type {HTMLButtonElement} */ (event.submitter || dialog.querySelector("button[type=submit]"));
  button.disabled = true;
  try {
    /** @type {ProctorExam} */
    const updated = await session.post(`/api/proctor/exams/${watched.id}/release-review/`);
    examsById.set(updated.id, updated);
    dialog.close();
    if (exam === watched) renderReview(watched.id);
    addFeed("You released the review to the students.", "action");
  } catch (error) {
    showError($("#release-error"), error.message);
  } finally {
    button.disabled = false;
  }
}

// --- Wiring ------------------------------------------------------------------------------------------

bindSignIn(session, route);
$("#denied-sign-out").addEventListener("click", () => {
  session.signOut();
  signedOut();
});
$("#exam-select", HTMLSelectElement).addEventListener("change", (event) =>
  watchExam(Number(/** @type {HTMLSelectElement} */ (event.target).value)),
);
$("#filter-text").addEventListener("input", () => exam && exam.table.schedule(true));
$("#filter-status").addEventListener("change", () => exam && exam.table.schedule(true));
$("#sort-select", HTMLSelectElement).addEventListener("change", (event) =>
  exam && exam.table.sortBy(/** @type {HTMLSelectElement} */ (event.target).value, { toggle: false }),
);
$("#clear-selection").addEventListener("click", () => exam && exam.table.clearSelection());
$("#bulk-actions").addEventListener("click", (event) => {
  const button = event.target instanceof Element ? event.target.closest("button[data-action]") : null;
  if (exam && button instanceof HTMLElement) openBulk(exam.ctx, exam.table, button.dataset.action || "");
});
$("#release-button").addEventListener("click", openRelease);
$("#release-form").addEventListener("submit", submitRelease);
for (const button of document.querySelectorAll("dialog [data-close]")) {
  button.addEventListener("click", () => button.closest("dialog")?.close());
}
route();
