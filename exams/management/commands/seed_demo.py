from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from exams.exam_files import import_exam
from exams.models import Exam

DEMO_TITLE = "Demo: general knowledge"
DEMO_EXAM = {
    "title": DEMO_TITLE,
    "description": "Five questions, ten minutes. Answers save as you click.",
    "duration_seconds": 600,
    "published": True,
    "questions": [
        {"text": "What is 7 x 8?", "options": {"A": "54", "B": "56", "C": "58"}, "correct": "B", "points": 1},
        {
            "text": "Which planet is closest to the Sun?",
            "options": {"A": "Venus", "B": "Earth", "C": "Mercury"},
            "correct": "C",
            "points": 1,
        },
        {
            "text": "H2O is better known as...",
            "options": {"A": "Water", "B": "Salt", "C": "Hydrogen"},
            "correct": "A",
            "points": 1,
        },
        {
            "text": "How many sides has a hexagon?",
            "options": {"A": "5", "B": "6", "C": "8"},
            "correct": "B",
            "points": 1,
        },
        {"text": "Which is a prime number?", "options": {"A": "21", "B": "27", "C": "29"}, "correct": "C", "points": 2},
    ],
}
USERS = [
    ("proctor", "proctor", True),
    ("student1", "student1", False),
    ("student2", "student2", False),
    ("student3", "student3", False),
]


class Command(BaseCommand):
    help = "Create the demo proctor, students and a published exam (idempotent)."

    def handle(self, *args, **options):
        User = get_user_model()
        for username, password, staff in USERS:
            user, _ = User.objects.get_or_create(username=username)
            user.set_password(password)
            user.is_staff = staff
            user.save()
        exam = Exam.objects.filter(title=DEMO_TITLE).first() or import_exam(data=DEMO_EXAM, publish=True)
        self.stdout.write(f"demo exam: {exam.title!r} (id {exam.pk}, {exam.duration_seconds // 60} min)")
        for username, password, staff in USERS:
            self.stdout.write(f"  {'proctor' if staff else 'student'}: {username} / {password}")
        self.stdout.write(str(exam.pk))
