"""Test settings: the base settings plus a fast hasher and a Redis database of the tests' own."""

from urllib.parse import urlsplit, urlunsplit

from .settings import *
from .settings import CACHES, CHANNEL_LAYERS, REST_FRAMEWORK, env, layer_hosts

SECRET_KEY = "test-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]", "testserver"]


def _with_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{db}"))


# The suite flushes its Redis database: keep it away from the one the server uses.
REDIS_URL = env.str("TEST_REDIS_URL", default=_with_db(env.str("REDIS_URL", default="redis://127.0.0.1:6379/0"), 15))
CACHES["default"]["LOCATION"] = REDIS_URL
CHANNEL_LAYERS["default"]["CONFIG"]["hosts"] = layer_hosts(REDIS_URL)
# Sign-in limits as in production (tests of the defaults rely on them); answers far apart.
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {**REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "answers": "10000/min"}
# The suite shares one MySQL server (151 connections) with daphne and listener processes it starts.
DB_POOL_SIZE = env.int("DB_POOL_SIZE", default=4)
