"""How fast this machine runs Python right now: the same code measures differently from hour to hour
on a shared 2-core host, so a benchmark reports this next to its load average."""

import statistics
import time

LOOP_STEPS = 5_000_000


def python_loop_ms(runs: int = 3) -> float:
    """Median milliseconds for a fixed pure-Python loop of LOOP_STEPS additions (lower is faster)."""
    times = []
    for _ in range(runs):
        started, total = time.perf_counter(), 0
        for i in range(LOOP_STEPS):
            total += i
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)
