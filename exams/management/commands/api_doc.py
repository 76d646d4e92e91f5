"""Regenerate docs/api.md's tables from the contract's declarations (exams/contract/docs.py)."""

from django.core.management.base import BaseCommand, CommandError

from exams.contract import docs


class Command(BaseCommand):
    help = "Regenerate the generated tables in docs/api.md; with --check, fail if they are out of date."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if docs/api.md is stale")

    def handle(self, *args, check: bool = False, **options) -> None:
        if check:
            if not docs.is_current():
                raise CommandError("docs/api.md is out of date: run `python manage.py api_doc`")
            self.stdout.write("docs/api.md is up to date")
            return
        changed = docs.write()
        self.stdout.write("docs/api.md updated" if changed else "docs/api.md was up to date")
