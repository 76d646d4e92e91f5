"""`INSERT ... SELECT`: rows the database writes from rows it already holds, with no Python per row
(a hard close's thousands of events, an exam-wide time change's). Django's ORM has no such
statement; this compiles the SELECT with the ORM, so each backend gets its own SQL for every
expression in it."""

from collections.abc import Sequence

from django.db import connections
from django.db.models import Expression, F, Field, Model, QuerySet, Value


def _insert_select(model: type[Model], fields: Sequence[str], rows: QuerySet) -> int:
    """Insert one `model` row per row of `rows`, a `values_list` of as many expressions as `fields`
    (model field names), in that order; returns how many were inserted."""
    connection = connections[rows.db]
    select_sql, params = rows.order_by().query.get_compiler(using=rows.db).as_sql()
    quote = connection.ops.quote_name
    columns = ", ".join(quote(_column(model, name)) for name in fields)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {quote(model._meta.db_table)} ({columns}) {select_sql}", params)
        return cursor.rowcount


def insert_like(template: Model, rows: QuerySet, **per_row: Expression | F) -> int:
    """Insert one row like `template` (each of its fields but the primary key) per row of `rows`,
    but for the fields named in `per_row`, which take those expressions of the row."""
    fields = [f for f in template._meta.concrete_fields if not f.primary_key]
    unknown = set(per_row) - {f.name for f in fields}
    if unknown:
        raise ValueError(f"not fields of {type(template).__name__}: {sorted(unknown)}")
    # Aliased: a field's name may be one of the rows' own (an event's `attempt` over attempts).
    select = {
        f"v_{f.name}": per_row[f.name] if f.name in per_row else Value(getattr(template, f.attname), output_field=f)
        for f in fields
    }
    return _insert_select(type(template), [f.name for f in fields], rows.annotate(**select).values_list(*select))


def _column(model: type[Model], name: str) -> str:
    field = model._meta.get_field(name)
    if not isinstance(field, Field) or field.column is None:
        raise ValueError(f"{model.__name__}.{name} has no column of its own")
    return field.column
