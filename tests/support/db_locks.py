"""Holding a table's writes from another connection: a real database that makes writers wait."""

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection


@contextmanager
def writes_held(table: str) -> Iterator[None]:
    """Writers to `table` wait (MySQL: a table lock; SQLite: a write transaction on the file) until this exits."""
    settings = connection.settings_dict
    if connection.vendor == "mysql":
        import MySQLdb  # only with MySQL: `make test` on SQLite installs no mysqlclient

        other = MySQLdb.connect(
            host=settings["HOST"] or "127.0.0.1",
            port=int(settings["PORT"] or 3306),
            user=settings["USER"],
            passwd=settings["PASSWORD"],
            db=settings["NAME"],
        )
        try:
            other.cursor().execute(f"LOCK TABLES `{table}` WRITE")
            yield
            other.cursor().execute("UNLOCK TABLES")
        finally:
            other.close()
    else:
        other = sqlite3.connect(settings["NAME"], isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            yield
            other.execute("COMMIT")
        finally:
            other.close()
