"""The synchronized start's writes: many students' attempts and `started` events, one INSERT ... SELECT each.

Django's `bulk_create` compiles every value of every row in Python (55,000 values and 10,000 model
instances for 2,500 students: ~13 s of one process on a loaded core). Students seated together
share their terms (start instant, allotted time, close: exams/windows.seat_terms), so a batch of
them is one statement whose only per-row value, the user id, the database reads from the user
rows; their events likewise from the attempts just made. Plain SQL that MariaDB and SQLite share.
"""

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Field, Model

from .models import Attempt, AttemptEvent

# Students per statement: their ids are the statement's parameters (SQLite allows 999 by default).
BATCH = 900


def _insert_select(template: Model, row_column: dict[str, str], source: str, where: str, params: list) -> None:
    """INSERT one row of `template`'s table per row of `source` matching `where`: every column the
    template's value, except those of `row_column` (field name -> a column of `source`)."""
    qn = connection.ops.quote_name
    fields: list[Field] = [f for f in template._meta.concrete_fields if not f.primary_key]
    columns, values, constants = [], [], []
    for f in fields:
        columns.append(qn(str(f.column)))
        if f.name in row_column:
            values.append(row_column[f.name])
        else:
            values.append("%s")
            constants.append(f.get_db_prep_save(getattr(template, f.attname), connection))
    sql = (
        f"INSERT INTO {qn(template._meta.db_table)} ({', '.join(columns)}) "
        f"SELECT {', '.join(values)} FROM {source} WHERE {where} ORDER BY 1"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, constants + params)


def _batches(ids: list[int]):
    for i in range(0, len(ids), BATCH):
        yield ids[i : i + BATCH]


def insert_attempts(template: Attempt, user_ids: list[int]) -> None:
    """One attempt like `template` (its exam, number, start, timeline, deadline) per user of `user_ids`."""
    users = get_user_model()._meta
    qn = connection.ops.quote_name
    pk = f"u.{qn(str(users.pk and users.pk.column))}"
    for batch in _batches(user_ids):
        _insert_select(
            template,
            {"user": pk},
            f"{qn(users.db_table)} u",
            f"{pk} IN ({', '.join(['%s'] * len(batch))})",
            batch,
        )


def insert_events(template: AttemptEvent, *, exam_id: int, number: int, user_ids: list[int]) -> None:
    """One event like `template` for the attempt numbered `number` of each user of `user_ids` in the exam."""
    qn = connection.ops.quote_name
    for batch in _batches(user_ids):
        _insert_select(
            template,
            {"attempt": "a.id"},
            f"{qn(Attempt._meta.db_table)} a",
            f"a.exam_id = %s AND a.{qn('number')} = %s AND a.user_id IN ({', '.join(['%s'] * len(batch))})",
            [exam_id, number, *batch],
        )
