"""project/safety.py: no server starts in production on the committed development key."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from project.safety import refuse_default_secret_key


def test_the_default_key_is_refused_when_debug_is_off(settings):
    settings.DEBUG, settings.SECRET_KEY = False, settings.DEFAULT_SECRET_KEY
    with pytest.raises(ImproperlyConfigured):
        refuse_default_secret_key()


def test_the_default_key_is_fine_in_development(settings):
    settings.DEBUG, settings.SECRET_KEY = True, settings.DEFAULT_SECRET_KEY
    refuse_default_secret_key()


def test_a_key_of_its_own_is_fine_in_production(settings):
    settings.DEBUG, settings.SECRET_KEY = False, "a-key-of-this-deployment-" + "k" * 40
    refuse_default_secret_key()
