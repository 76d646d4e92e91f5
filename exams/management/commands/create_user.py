from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create or update a user; --proctor makes them staff."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--password", required=True)
        parser.add_argument("--proctor", action="store_true", help="staff: may watch exams and extend time")

    def handle(self, *args, username, password, proctor, **options):
        user, created = get_user_model().objects.get_or_create(username=username)
        user.set_password(password)
        user.is_staff = proctor
        user.is_active = True
        user.save()
        role = "proctor" if proctor else "student"
        self.stdout.write(f"{'created' if created else 'updated'} {role} {username} (id {user.pk})")
