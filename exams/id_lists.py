"""`column IN (1,2,...)` for thousands of integer ids: an exam-wide change's 5,000 attempts, a hard
close's batch of 1,000, the proctors' rows of either.

Django's `__in` prepares and escapes each id as a parameter of its own: ~15 ms of a process's time
per 1,000 ids, per query. Here the ids are written into the SQL as integers (`int()` on each: nothing
else reaches the SQL), the same on every backend.
"""

from collections.abc import Iterable

from django.core.exceptions import EmptyResultSet
from django.db.models import F, Lookup


class IdsIn(Lookup):
    """`lhs IN (ids)`; usable wherever a condition is (`filter(IdsIn(F("pk"), ids))`, `Q`, `exclude`)."""

    lookup_name = "ids_in"
    prepare_rhs = False

    def __init__(self, lhs, rhs: Iterable[int]) -> None:
        super().__init__(lhs, tuple(int(i) for i in rhs))

    def as_sql(self, compiler, connection):
        if not self.rhs:
            raise EmptyResultSet  # as `__in=[]`: the query matches nothing, without asking the database
        lhs, params = self.process_lhs(compiler, connection)
        return f"{lhs} IN ({','.join(map(str, self.rhs))})", params


def ids_in(field: str, ids: Iterable[int]) -> IdsIn:
    """The condition `field IN (ids)`, e.g. `Answer.objects.filter(ids_in("attempt_id", ids))`."""
    return IdsIn(F(field), ids)
