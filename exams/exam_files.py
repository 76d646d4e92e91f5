"""Loading an exam from its JSON file format (the contract's `load_exam`)."""

from django.db import transaction

from .errors import ServiceError
from .models import Exam, Question, ReviewShows, ReviewWhen


def _fail(field: str, problem: str):
    raise ServiceError(f"{field}: {problem}", code="invalid_exam_file")


def _positive_int(value, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        _fail(field, f"must be a whole number greater than 0, got {value!r}")
    return value


def validate_exam_data(data) -> dict:
    """Check the whole file; the first problem is reported with the field's path."""
    if not isinstance(data, dict):
        _fail("(file)", "must be a JSON object")
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        _fail("title", "must be a non-empty string")
    if len(title) > 200:
        _fail("title", "must be at most 200 characters")
    _positive_int(data.get("duration_seconds"), "duration_seconds")
    if "published" in data and not isinstance(data["published"], bool):
        _fail("published", "must be true or false")
    if "max_attempts" in data:
        _positive_int(data["max_attempts"], "max_attempts")
    if "description" in data and not isinstance(data["description"], str):
        _fail("description", "must be a string")
    # The review policy (exams/review.py); the model's defaults when absent.
    for field, choices in (("review_shows", ReviewShows), ("review_when", ReviewWhen)):
        if field in data and data[field] not in choices.values:
            _fail(field, f"must be one of {list(choices.values)}, got {data[field]!r}")
    questions = data.get("questions")
    if not isinstance(questions, list) or not questions:
        _fail("questions", "must be a non-empty list")
    for i, q in enumerate(questions):
        where = f"questions[{i}]"
        if not isinstance(q, dict):
            _fail(where, "must be an object")
        if not isinstance(q.get("text"), str) or not q["text"].strip():
            _fail(f"{where}.text", "must be a non-empty string")
        options = q.get("options")
        if not isinstance(options, dict) or len(options) < 2:
            _fail(f"{where}.options", "must be an object with at least two options")
        for letter, text in options.items():
            if not 0 < len(letter) <= 8 or not isinstance(text, str):
                _fail(f"{where}.options.{letter}", "keys are 1-8 characters and values are strings")
        # A list or object here is unhashable: check the type before looking it up.
        if not isinstance(q.get("correct"), str) or q["correct"] not in options:
            _fail(f"{where}.correct", f"must be one of {sorted(options)}, got {q.get('correct')!r}")
        if "points" in q:
            _positive_int(q["points"], f"{where}.points")
    return data


@transaction.atomic
def import_exam(*, data: dict, publish: bool = False) -> Exam:
    """Create an exam and its questions from validated file data."""
    validate_exam_data(data)
    exam = Exam.objects.create(
        title=data["title"].strip(),
        description=data.get("description", ""),
        duration_seconds=data["duration_seconds"],
        published=publish or data.get("published", False),
        max_attempts=data.get("max_attempts", 1),
        **{field: data[field] for field in ("review_shows", "review_when") if field in data},
    )
    Question.objects.bulk_create(
        Question(
            exam=exam,
            order=i + 1,
            text=q["text"],
            options=q["options"],
            correct_option=q["correct"],
            points=q.get("points", 1),
        )
        for i, q in enumerate(data["questions"])
    )
    return exam
