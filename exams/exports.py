"""CSV exports for staff: an exam's results, one line per attempt.

The columns are declared here once (docs/api.md names them); the rows come from
`selectors.results_page`, a page at a time, so an exam of any size streams in bounded memory
and a bounded number of queries per page.
"""

import csv
import io
from collections.abc import AsyncIterator

from asgiref.sync import sync_to_async

from . import clock, selectors

RESULT_COLUMNS = ["student", "status", "score", "max_score", "started_at", "ended_at", "extra_seconds", "incidents"]
PAGE_SIZE = 500


def _lines(rows: list[list]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


def results_page(exam_id: int, after_id: int) -> tuple[str, int | None]:
    """The CSV lines of the exam's next PAGE_SIZE attempts after `after_id`, and the last id (None when done)."""
    page = selectors.results_page(exam_id=exam_id, after_id=after_id, size=PAGE_SIZE)
    rows = [
        [
            r.attempt.user.get_username(),
            r.attempt.status,
            "" if r.attempt.score is None else r.attempt.score,
            "" if r.attempt.max_score is None else r.attempt.max_score,
            clock.iso(r.attempt.started_at),
            clock.iso(r.attempt.ended_at) or "",
            r.attempt.extra_seconds,
            r.incidents,
        ]
        for r in page
    ]
    return _lines(rows), (page[-1].attempt.pk if page else None)


async def results_csv(exam_id: int) -> AsyncIterator[str]:
    """The results CSV, header first, a page of attempts at a time.

    Each page is read in the request's thread-sensitive context, so it uses (and Django's
    request_finished closes) the request's own database connection, under ASGI as under WSGI.
    """
    yield _lines([RESULT_COLUMNS])
    after = 0
    read = sync_to_async(results_page, thread_sensitive=True)
    while True:
        lines, last = await read(exam_id, after)
        if last is None:
            return
        yield lines
        after = last
