"""Schemathesis against the live OpenAPI document: every operation fuzzed as a student and as a
proctor, every response checked against the document (no 5xx, statuses, content types, bodies,
refused bad input, accepted good input, 401 without the token).

The schema is the one the app serves at /api/schema/, fetched through the app's WSGI handler;
requests go through the same handler, on the test database, with real Redis. Each operation gets
a bounded number of examples (FUZZ_EXAMPLES) so the run stays well under a minute.

The objects are made small and first (exam 1, attempt 1, questions 1-3 after the table flush) so
generated ids find them: the fuzzing reaches the real paths (answers saved, attempts submitted,
extended, force-submitted, reviews released), not only 404s. Nothing is excluded: a login with a
random name and password is a 401, a lockout or throttle a documented 429, and no generated name
is one of the two users whose tokens the run uses.
"""

import os

import pytest
import schemathesis
from django.core.management.color import no_style
from django.core.wsgi import get_wsgi_application
from django.db import connection
from hypothesis import HealthCheck, settings
from schemathesis.config._checks import (
    NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES,
    POSITIVE_DATA_ACCEPTANCE_EXPECTED_STATUSES,
)

from exams import services
from exams.models import Attempt, Exam, Question
from tests.conftest import token_for

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "20"))

# A body past the message size limit is refused 413 (`message_too_large`, documented on every
# operation with a body) whatever else is right or wrong with it: a rejection either way.
_NEGATIVE = [*NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES, "413"]
_POSITIVE = [*POSITIVE_DATA_ACCEPTANCE_EXPECTED_STATUSES, "413"]
config = schemathesis.Config.from_dict(
    {
        "checks": {
            "negative_data_rejection": {"expected-statuses": _NEGATIVE},
            "positive_data_acceptance": {"expected-statuses": _POSITIVE},
        }
    }
)
schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application(), config=config)


@pytest.fixture(params=["student", "proctor"])
def token(request, transactional_db, make_user, make_exam) -> str:
    """A student's or a proctor's token; the student has attempt 1 of exam 1 (questions 1-3) under way."""
    # The tables are empty (flushed by DELETE, which keeps the counters): number from 1 again,
    # with whatever statement this database uses for it.
    sequences = [{"table": model._meta.db_table, "column": "id"} for model in (Exam, Question, Attempt)]
    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_by_name_sql(no_style(), sequences):
            cursor.execute(sql)
    student, proctor = make_user(), make_user(staff=True)
    exam = make_exam(duration=3600)
    attempt = services.start_attempt(user=student, exam_id=exam.pk).attempt
    assert (exam.pk, attempt.pk, sorted(exam.questions.values_list("pk", flat=True))) == (1, 1, [1, 2, 3])
    return token_for(student if request.param == "student" else proctor)


def _sent_as_generated(value) -> bool:
    """A query value a query string carries as it is: a scalar, or a non-empty list of scalars."""
    if isinstance(value, list):
        return bool(value) and all(_sent_as_generated(item) for item in value)
    return not isinstance(value, dict)


def filter_query(ctx, query) -> bool:
    # A negative case may add a parameter whose value is `[]` or `{}`: the query string then drops
    # it, the request sent is valid, and its 200 would be reported as bad input accepted.
    return query is None or all(_sent_as_generated(value) for value in query.values())


@schema.hooks.apply(filter_query)
@schema.parametrize()
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    database=None,  # no .hypothesis/ directory in the repository
    # The token fixture is set up once per operation, not per example: the examples share it on purpose.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_api_conforms_to_its_document(case, token):
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"})
