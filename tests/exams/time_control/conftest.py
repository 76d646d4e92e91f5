"""Fixtures of the time-control tests: started attempts of many students, statement counting."""

from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from exams import services
from exams.models import Attempt


@pytest.fixture
def start_many(make_user) -> Callable[..., list[Attempt]]:
    """`start_many(exam, n)`: n students each start an attempt of `exam` (real starts: timers armed)."""

    def start(exam, n: int) -> list[Attempt]:
        return [services.start_attempt(user=make_user(), exam_id=exam.pk).attempt for _ in range(n)]

    return start


def fresh(attempts: list[Attempt]) -> list[Attempt]:
    return list(Attempt.objects.filter(pk__in=[a.pk for a in attempts]).order_by("pk"))


class Statements(CaptureQueriesContext):
    """The SQL statements run inside the block, by kind."""

    def __init__(self) -> None:
        super().__init__(connection)

    def count(self, verb: str, table: str = "exams_attempt") -> int:
        return sum(
            1
            for q in self.captured_queries
            if q["sql"].lstrip().upper().startswith(verb) and table in q["sql"].split("WHERE")[0]
        )
