"""Settings for the exam server: everything here, switched by environment variables.

Every variable is listed with its default in README.md and `.env.example`.
"""

from datetime import timedelta
from pathlib import Path
from typing import Any

import environ

from exams.redis_clients import channel_layer_hosts, parse_sentinels

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEFAULT_SECRET_KEY = "insecure-dev-key-change-me-0123456789abcdefghijklmnop"
SECRET_KEY = env.str("SECRET_KEY", default=DEFAULT_SECRET_KEY)
DEBUG = env.bool("DEBUG", default=False)

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "exams",
    "realtime",
    "web",
]

MIDDLEWARE = [
    # First: an answer's time is when it arrived, before anything else can delay it.
    "project.receipt.received_at_middleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as axes asks: it turns a lockout flagged during authentication into its answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "project.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

ASGI_APPLICATION = "project.asgi.application"

# --- Database: MySQL/MariaDB in production, a SQLite file for the embedded run. ---
DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
_db = DATABASES["default"]
_db.setdefault("OPTIONS", {})
if _db["ENGINE"] == "django.db.backends.mysql":
    _db["OPTIONS"].setdefault("charset", "utf8mb4")
    # The test database name must be explicit on MySQL (django/channels#2176) and is what
    # subprocesses in the tests (daphne, the listener) connect to.
    _db["TEST"] = {"NAME": env.str("TEST_DATABASE_NAME", default=f"test_{_db['NAME']}"), "CHARSET": "utf8mb4"}
elif _db["ENGINE"] == "django.db.backends.sqlite3":
    # Writers wait for the lock instead of failing, and take it at BEGIN so two racing
    # transactions serialise (SQLite has no SELECT ... FOR UPDATE).
    _db["OPTIONS"].setdefault("timeout", 30)
    _db["OPTIONS"].setdefault("transaction_mode", "IMMEDIATE")
    # A file, not memory: daphne and the listener run in other processes during tests.
    _db["TEST"] = {"NAME": env.str("TEST_DATABASE_NAME", default=str(BASE_DIR / ".run" / "test.sqlite3"))}
# 0: a request's connection closes at its end. Under ASGI each request runs in a thread of its
# own, so a persistent one outlives it, orphaned until garbage-collected (Django's docs: disable
# persistent connections under ASGI); 250 requests held 147 connections (MariaDB allows 151).
_db["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=0)
_db["CONN_HEALTH_CHECKS"] = True
# Threads per process for the sockets' database work (realtime/db.py), each keeping its
# connection: a bound on what a process's sockets hold, and no connect per call.
DB_POOL_SIZE = env.int("DB_POOL_SIZE", default=16)
# HTTP requests a daphne process serves at once (each holds a connection while it runs); more
# wait their turn (project/inflight.py). With DB_POOL_SIZE: at most 40 connections a process.
HTTP_CONCURRENCY = env.int("HTTP_CONCURRENCY", default=24)

AUTH_PASSWORD_VALIDATORS: list[dict] = []

# --- Failed-login lockout (django-axes): the API's login and the admin's. ---
# First: a locked account is refused before its password is checked.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
# Failures are counted per account name in the database (all processes agree; no Redis).
# Not per address: a class behind one NAT shares one. A classmate who knows a name can lock
# that account for the cool-off; a proctor can unlock it (admin, or `manage.py axes_reset_username`).
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=10)
# Failures this old are forgotten, and a lock ends this long after the failure that set it.
AXES_COOLOFF_TIME = timedelta(minutes=env.float("LOGIN_LOCKOUT_MINUTES", default=15))
# A try while locked does not extend the lock (a guesser would keep the owner out for ever).
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_CLIENT_IP_CALLABLE = "project.client_address.client_ip"
AXES_USERNAME_CALLABLE = "exams.api.lockout.attempted_username"
AXES_LOCKOUT_CALLABLE = "exams.api.lockout.lockout_response"
# Its advice, to lock per address too, would lock out a class behind one NAT; the address
# has its own (generous) rate limit instead (REST_FRAMEWORK's "login" throttle).
SILENCED_SYSTEM_CHECKS = ["axes.W006"]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / ".run" / "static"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# On SIGTERM a daphne process closes its sockets (1012), lets HTTP requests under way finish
# for up to this long, leaves presence and exits (project/graceful.py).
SHUTDOWN_GRACE_SECONDS = env.float("SHUTDOWN_GRACE_SECONDS", default=10.0)

# --- Redis: timers, deadline index, presence, channel layer, throttling cache. ---
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
# Redis Sentinel (exams/redis_clients.py): "host:port,host:port,..." of the sentinels. Set, every
# Redis user (clients, cache, channel layer, the listener's subscription) connects to the
# master they name for REDIS_SENTINEL_MASTER, and follows a failover; REDIS_URL then gives only
# the database number and password. Empty: REDIS_URL's server, as it is.
REDIS_SENTINELS = parse_sentinels(env.list("REDIS_SENTINELS", default=[]))
REDIS_SENTINEL_MASTER = env.str("REDIS_SENTINEL_MASTER", default="mymaster")
REDIS_SENTINEL_PASSWORD = env.str("REDIS_SENTINEL_PASSWORD", default="")
# Optional: the channel layer sharded over several Redis servers (channels-redis hashes each
# channel and group to one), while timers, presence and the cache stay on REDIS_URL's. Either
# URLs, or with sentinels the names of several master sets they watch.
CHANNEL_LAYER_REDIS_URLS = env.list("CHANNEL_LAYER_REDIS_URLS", default=[])
CHANNEL_LAYER_SENTINEL_MASTERS = env.list("CHANNEL_LAYER_SENTINEL_MASTERS", default=[])
REDIS_MAX_CONNECTIONS = env.int("REDIS_MAX_CONNECTIONS", default=1000)
# Seconds a Redis call may wait (connect, then read). Required work (a new attempt's timer,
# an extension) fails with a 503 past REDIS_TIMEOUT; optional work on a request's path
# (rate-limit counters, re-arming a timer the reconciler would re-arm) gives up past
# OPTIONAL_REDIS_TIMEOUT and the request goes on: a hung Redis never holds an answer.
REDIS_TIMEOUT = env.float("REDIS_TIMEOUT", default=2.0)
OPTIONAL_REDIS_TIMEOUT = env.float("OPTIONAL_REDIS_TIMEOUT", default=0.1)

CACHES: dict[str, dict[str, Any]] = {
    # Only the rate limits count here; they fail open (exams/api/throttling.py).
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "exam:cache",
        # Passed to redis-py's pool; its default read timeout (5 s) held every answer that long.
        "OPTIONS": {
            "socket_connect_timeout": OPTIONAL_REDIS_TIMEOUT,
            "socket_timeout": OPTIONAL_REDIS_TIMEOUT,
            # REDIS_URL's server, or the sentinels' master.
            "pool_class": "exams.redis_clients.CachePool",
        },
    }
}

# Longer than channels-redis's 5 s blocking receive.
CHANNEL_LAYER_SOCKET_TIMEOUT = 15


def layer_hosts(url: str) -> list[dict[str, Any]]:
    """The channel layer's hosts for a Redis URL (test settings point it at their own database)."""
    return channel_layer_hosts(
        url,
        sentinels=REDIS_SENTINELS,
        master=REDIS_SENTINEL_MASTER,
        sentinel_password=REDIS_SENTINEL_PASSWORD,
        shard_urls=CHANNEL_LAYER_REDIS_URLS,
        shard_masters=CHANNEL_LAYER_SENTINEL_MASTERS,
        max_connections=REDIS_MAX_CONNECTIONS,
        socket_timeout=CHANNEL_LAYER_SOCKET_TIMEOUT,
    )


CHANNEL_LAYERS: dict[str, dict[str, Any]] = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # redis-py caps an async pool at 100 connections by default: too few for bursts.
            # redis-py 8 reads with a 5 s socket timeout by default, the same 5 s that
            # channels-redis blocks in BZPOPMIN: the read timed out first and killed the
            # socket holding the receive (one student cut off every 5 idle seconds).
            "hosts": layer_hosts(REDIS_URL),
            # Only the hubs use the layer: one channel per daphne process, in one group
            # (realtime/hub.py). A message carries up to 500 events, so a process's channel
            # queues batches, not per-socket messages; past capacity channels-redis drops.
            "capacity": env.int("CHANNEL_LAYER_CAPACITY", default=1000),
            "expiry": 60,
            # Each hub re-joins every second: a process that died drops out within this.
            "group_expiry": 30,
            "prefix": "exam:layer:",
        },
    }
}

# --- REST framework and JWT. ---
# Proxies in front of daphne that append to X-Forwarded-For. 0: the header is ignored and the
# TCP peer is the client (project/client_address.py); set it when behind a proxy, or every
# client has the proxy's address (one rate limit for all, /metrics open to all).
NUM_PROXIES = env.int("NUM_PROXIES", default=0)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework_simplejwt.authentication.JWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["exams.api.parsers.BoundedJSONParser"],
    "EXCEPTION_HANDLER": "exams.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "NUM_PROXIES": NUM_PROXIES,
    "DEFAULT_THROTTLE_RATES": {
        # Per client address: a class behind one NAT signs in within the same minute.
        "login": env.str("THROTTLE_LOGIN", default="300/min"),
        # Per account name, from any address: guessing one account's password is slow.
        "login_account": env.str("THROTTLE_LOGIN_ACCOUNT", default="10/min"),
        # Per client address, apart from logins: a refresh proves a signed token, not a password.
        "refresh": env.str("THROTTLE_REFRESH", default="600/min"),
        "answers": env.str("THROTTLE_ANSWERS", default="120/min"),
    },
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.float("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(hours=env.float("JWT_REFRESH_HOURS", default=24)),
    "UPDATE_LAST_LOGIN": False,
    "TOKEN_OBTAIN_SERIALIZER": "exams.api.tokens.LoginSerializer",
    "TOKEN_REFRESH_SERIALIZER": "exams.api.tokens.RefreshSerializer",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Exam server API",
    "DESCRIPTION": (
        "Timed exams with a server-owned clock. The WebSocket frames are the components named "
        "`StudentSocketFrame`, `StudentSocketMessage`, `ProctorSocketFrame` and `ProctorSocketMessage`; "
        "docs/api.md describes both in prose."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI served from this server, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # The socket frames join the REST bodies after enums are named: theirs stay inline (a frame's
    # `type` is a one-value enum, the same value in several messages) (exams/contract/schema.py).
    # An enum's values are its description: no "* `a` - a" lists appended to each field's.
    "ENUM_GENERATE_CHOICE_DESCRIPTION": False,
    # One name for a choice set that several fields use (a review's `shows` and `later`).
    "ENUM_NAME_OVERRIDES": {"ReviewShowsEnum": "exams.models.ReviewShows"},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "exams.contract.schema.add_socket_frames",
        "exams.contract.schema.path_ids_from_one",
        "exams.contract.schema.fields_not_together",
    ],
}

# --- The exam clock. ---
EXAM = {
    # An answer counts if it arrives by deadline + grace; expiry waits for the grace too.
    "ANSWER_GRACE_SECONDS": env.float("ANSWER_GRACE_SECONDS", default=0.0),
    # How often the sockets get a `timer` frame.
    "TICK_SECONDS": env.float("TIMER_TICK_SECONDS", default=1.0),
    # The listener's deadline sweeper and reconciler.
    "SWEEP_INTERVAL_MS": env.int("SWEEP_INTERVAL_MS", default=200),
    "SWEEP_BATCH_SIZE": env.int("SWEEP_BATCH_SIZE", default=1000),
    "RECONCILE_INTERVAL_SECONDS": env.float("RECONCILE_INTERVAL_SECONDS", default=5.0),
    # A claimed attempt whose batch neither committed nor failed (its listener died) is claimable again after this.
    "CLAIM_LEASE_MS": env.int("CLAIM_LEASE_MS", default=5000),
    # A socket process expires an attempt itself when no timeout arrived this long after its deadline.
    "ON_ACCESS_SLACK_SECONDS": env.float("ON_ACCESS_SLACK_SECONDS", default=2.0),
    # The synchronized start (exams/waiting_room.py): "start now" starts the clocks this long after
    # the click, and processes seat their waiting students this long before a scheduled start, so
    # the questions reach every screen before the clocks start.
    "SYNC_START_LEAD_SECONDS": env.float("SYNC_START_LEAD_SECONDS", default=2.0),
    # A process that would seat students less than this before the start seats them at a fresh
    # instant this far ahead instead (their screens could not have the questions by the start).
    "SYNC_START_MARGIN_SECONDS": env.float("SYNC_START_MARGIN_SECONDS", default=0.3),
    "LISTENER_METRICS_PORT": env.int("LISTENER_METRICS_PORT", default=9108),
    # Loopback: the metrics need no password, so only this host reads them unless this says otherwise.
    "LISTENER_METRICS_ADDR": env.str("LISTENER_METRICS_ADDR", default="127.0.0.1"),
    # WebSocket input limits.
    "WS_MAX_MESSAGE_BYTES": env.int("WS_MAX_MESSAGE_BYTES", default=4096),
    "WS_MESSAGES_PER_SECOND": env.float("WS_MESSAGES_PER_SECOND", default=10.0),
    "WS_MESSAGE_BURST": env.int("WS_MESSAGE_BURST", default=20),
    # Per user, across the user's sockets in one process (realtime/limits.py): a user with many
    # sockets gets no more than one fair share. Excess handshakes close with 4429, excess
    # messages get `throttled` at once.
    "WS_MAX_SOCKETS_PER_USER": env.int("WS_MAX_SOCKETS_PER_USER", default=10),
    "WS_MAX_SOCKETS_PER_ATTEMPT": env.int("WS_MAX_SOCKETS_PER_ATTEMPT", default=5),
    "WS_USER_MESSAGES_PER_SECOND": env.float("WS_USER_MESSAGES_PER_SECOND", default=20.0),
    "WS_USER_MESSAGE_BURST": env.int("WS_USER_MESSAGE_BURST", default=40),
    "WS_MAX_INFLIGHT_PER_USER": env.int("WS_MAX_INFLIGHT_PER_USER", default=4),
    # Rights on open sockets (realtime/rights.py): every user's is_active and is_staff are
    # re-read for all of a process's users this often, and an action never runs on rights
    # read longer ago than the bound (it re-reads that user first).
    "WS_RIGHTS_REFRESH_SECONDS": env.float("WS_RIGHTS_REFRESH_SECONDS", default=2.0),
    "WS_RIGHTS_MAX_AGE_SECONDS": env.float("WS_RIGHTS_MAX_AGE_SECONDS", default=5.0),
}

# --- Who may read /metrics on the web port (exams/api/metrics_view.py): clients in these
# networks (by project.client_address, so NUM_PROXIES must be right behind a proxy, or the
# proxy's own loopback address would let everyone in), or anyone with METRICS_TOKEN as a
# bearer token. Empty token: no token opens it.
METRICS_ALLOWED_NETWORKS = env.list("METRICS_ALLOWED_NETWORKS", default=["127.0.0.0/8", "::1/128"])
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# --- Logging: keep existing loggers (daphne's tracebacks) visible. ---
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "exams": {"level": LOG_LEVEL},
        "project": {"level": LOG_LEVEL},
        "realtime": {"level": LOG_LEVEL},
        # Its "channels over capacity" line (a dropped message) is logged at INFO.
        "channels_redis": {"level": "INFO"},
    },
}
