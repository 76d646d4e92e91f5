import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from exams import enrollment
from exams.errors import ServiceError


class Command(BaseCommand):
    help = (
        "Enroll the usernames of a CSV file (first column, one per row, optional `username` header) in an exam; "
        "all or none. An exam with enrollments is open to its enrolled students only."
    )

    def add_arguments(self, parser):
        parser.add_argument("exam_id", type=int)
        parser.add_argument("csv_file", help="a path, or - for standard input")

    def handle(self, *args, exam_id, csv_file, **options):
        text = sys.stdin.read() if csv_file == "-" else Path(csv_file).read_text(encoding="utf-8-sig")
        try:
            change = enrollment.import_enrollments_csv(exam_id=exam_id, text=text, by=None)
        except ServiceError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(
            f"exam {exam_id}: {len(change.changed)} enrolled, {len(change.unchanged)} already enrolled, "
            f"{change.enrolled} in all"
        )
