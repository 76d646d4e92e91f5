import json

from django.core.management.base import BaseCommand, CommandError

from exams.errors import ServiceError
from exams.exam_files import import_exam


class Command(BaseCommand):
    help = "Load an exam from a JSON file; prints the new exam's id as the last line."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--publish", action="store_true")

    def handle(self, *args, file, publish, **options):
        try:
            with open(file, encoding="utf-8") as fh:
                data = json.load(fh)
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror}") from None
        except ValueError as exc:
            raise CommandError(f"{file} is not valid JSON: {exc}") from None
        try:
            exam = import_exam(data=data, publish=publish)
        except ServiceError as exc:
            raise CommandError(f"{file}: {exc.message}") from None
        state = "published" if exam.published else "unpublished"
        self.stdout.write(f"loaded {state} exam {exam.title!r} with {exam.questions.count()} questions")
        self.stdout.write(str(exam.pk))
