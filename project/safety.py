from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def refuse_default_secret_key() -> None:
    """Servers (daphne, the listener) won't start in production on the committed dev key."""
    if not settings.DEBUG and settings.SECRET_KEY == settings.DEFAULT_SECRET_KEY:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off; it is still the default dev key.")
