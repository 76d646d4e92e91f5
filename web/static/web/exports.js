// @ts-check
// Exports of the watched exam: the results as CSV (streamed by the server, fetched with the
// proctor's token and saved as a file).

import { dashboard } from "./dashboard.js";

/**
 * Fetch `path` as the signed-in proctor and save it as `filename`.
 * @param {import("./api.js").Session} session
 * @param {string} path
 * @param {string} filename
 * @returns {Promise<void>}
 */
export async function download(session, path, filename) {
  const response = await fetch(path, { headers: { Authorization: `Bearer ${await session.access()}` }, cache: "no-store" });
  if (!response.ok) {
    const body = await response.json().catch(() => null);
    throw new Error(body?.error?.message || `The export failed (HTTP ${response.status}).`);
  }
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

dashboard.addToolbarAction({
  key: "results-csv",
  label: "Results (CSV)",
  run(ctx) {
    download(ctx.session, `/api/proctor/exams/${ctx.examId}/results.csv`, `exam-${ctx.examId}-results.csv`)
      .catch((error) => ctx.feed(error.message, "error"));
  },
});
