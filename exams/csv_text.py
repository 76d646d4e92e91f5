"""CSV text from a client (an enrollment or accommodation import), read into rows one way."""

import csv
import io

from .errors import ServiceError


def csv_rows(text: str) -> list[list[str]]:
    """The rows of `text`; ServiceError(`invalid`) if it is not CSV.

    `newline=""` is how the csv module wants its input: a bare carriage return ends a row, as
    it does in a file, instead of failing the whole text as a newline inside a field.
    """
    try:
        return list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise ServiceError(f"Not a readable CSV: {exc}.", code="invalid") from None
