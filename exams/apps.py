from django.apps import AppConfig


class ExamsConfig(AppConfig):
    name = "exams"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from exams.api import lockout  # noqa: F401  (connects the lockout signal's receiver)
