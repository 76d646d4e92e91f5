"""Prometheus metrics of the expiry engine (served on /metrics by each process)."""

from collections.abc import Iterable

from prometheus_client import Counter, Histogram

EXPIRIES = Counter("exam_expiries_total", "Attempts timed out, by the path that caught them", ["path"])
LATENESS = Histogram(
    "exam_expiry_lateness_seconds",
    "From an attempt's deadline to its timeout being committed, by path",
    ["path"],
    buckets=(0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 5, 10, 30, 60, 300),
)


def observe_expiries(path: str, lateness_ms: Iterable[int]) -> None:
    counter, histogram = EXPIRIES.labels(path), LATENESS.labels(path)
    for ms in lateness_ms:
        counter.inc()
        histogram.observe(max(ms, 0) / 1000)
