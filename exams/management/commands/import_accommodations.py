from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from exams import time_rules
from exams.errors import ServiceError


class Command(BaseCommand):
    help = (
        "Import accommodations from a CSV file of `username,multiplier,extra_minutes,reason` rows (a header row "
        "optional). Each valid row is saved; each invalid one is printed with its line and why (exit status 1)."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--by", required=True, help="the proctor (staff user) recorded as setting them")
        parser.add_argument("--exam", type=int, default=None, help="for this exam only (default: all exams)")
        parser.add_argument(
            "--apply-to-running", action="store_true", help="also change the students' running attempts at once"
        )

    def handle(self, *args, file: Path, by: str, exam: int | None, apply_to_running: bool, **options):
        proctor = get_user_model().objects.filter(username=by, is_staff=True).first()
        if proctor is None:
            raise CommandError(f"--by {by!r} is not a staff user")
        try:
            text = file.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"cannot read {file}: {exc}") from exc
        try:
            report = time_rules.import_accommodations(
                by=proctor, text=text, exam_id=exam, apply_to_running=apply_to_running
            )
        except ServiceError as exc:
            raise CommandError(exc.message) from exc
        for row in report.refused:
            self.stderr.write(f"line {row['line']} ({row['username'] or 'no username'}): {row['message']}")
        self.stdout.write(
            f"created {report.created}, updated {report.updated}, running attempts changed {report.applied}, "
            f"refused {len(report.refused)}"
        )
        if report.refused:
            raise SystemExit(1)
