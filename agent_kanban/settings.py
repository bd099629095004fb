"""Settings: every value an operator may change comes from an environment variable
of the same name (or a `.env` file beside manage.py). With nothing set, the app runs
embedded: SQLite under var/, in-memory channel layer, local-memory cache."""

import os
from pathlib import Path

from agent_kanban import production
from agent_kanban.env import (
    database_from_url,
    env_bool,
    env_float,
    env_int,
    env_list,
    env_rate,
    env_str,
    load_dotenv,
    sqlite_database,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)
load_dotenv(BASE_DIR / ".env")

ENVIRONMENT = env_str("ENVIRONMENT", "development")
DEBUG = env_bool("DEBUG", ENVIRONMENT == "development")
SECRET_KEY = env_str("SECRET_KEY", "dev-insecure-secret-key-change-me-in-production")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "core",
    "agents",
    "boards",
    "tickets",
    "comments",
    "history",
    "stats",
    "audit",
    "webhooks",
    "forge",
    "live",
    "web",
    "mcp_server",
    "backups",
]

MIDDLEWARE = [
    # The request id comes first, so every later middleware's log lines carry it.
    "core.request_id.RequestIdMiddleware",
    "core.metrics.MetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "core.security.SecurityHeadersMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After authentication: writes count per signed-in user (see the rate limits below).
    "agents.ratelimits.RateLimitMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "agent_kanban.urls"
WSGI_APPLICATION = "agent_kanban.wsgi.application"
ASGI_APPLICATION = "agent_kanban.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
    {
        # Only the board's cards (web/jinja.py says why), in a folder of their own so
        # that neither engine finds the other's templates.
        "NAME": "jinja2",
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "templates" / "jinja2"],
        "APP_DIRS": False,
        "OPTIONS": {"environment": "web.jinja.environment"},
    },
]

DATABASE_URL = env_str("DATABASE_URL")
DATABASES = {
    "default": database_from_url(DATABASE_URL, BASE_DIR)
    if DATABASE_URL
    else sqlite_database(VAR_DIR / "agent_kanban.sqlite3")
}
# Every process that connects at once (gunicorn workers, daphne instances, stdio agents,
# timers, the webhook deliverer) may hold its whole pool: `check --deploy --database
# default` warns when that exceeds PostgreSQL's max_connections less
# DATABASE_CONNECTIONS_HEADROOM.
DATABASE_PROCESSES = env_int(
    "DATABASE_PROCESSES", env_int("GUNICORN_WORKERS", 3) + env_int("DAPHNE_INSTANCES", 2) + 3
)
DATABASE_CONNECTIONS_HEADROOM = env_int("DATABASE_CONNECTIONS_HEADROOM", 10)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "agents.User"

REDIS_URL = env_str("REDIS_URL")
# redis-py 8 gives up on a socket read after 5 s, and channels_redis waits for a
# consumer's next message with a blocking pop of exactly 5 s: every consumer idle for
# 5 s would fail. Reads get more time than that pop.
REDIS_SOCKET_TIMEOUT = env_int("REDIS_SOCKET_TIMEOUT", 30)
# Each Redis pool of a process holds at most REDIS_MAX_CONNECTIONS connections, and a
# command waits up to REDIS_POOL_TIMEOUT seconds for a free one instead of failing.
REDIS_MAX_CONNECTIONS = env_int("REDIS_MAX_CONNECTIONS", 50)
REDIS_POOL_TIMEOUT = env_int("REDIS_POOL_TIMEOUT", 5)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "agent_kanban"),
            "OPTIONS": {
                "CONNECTION_POOL_CLASS": "redis.BlockingConnectionPool",
                "CONNECTION_POOL_KWARGS": {
                    "max_connections": REDIS_MAX_CONNECTIONS,
                    "timeout": REDIS_POOL_TIMEOUT,
                },
            },
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            # Channel layer flavour (bench): CHANNEL_LAYER_BACKEND=pubsub uses
            # channels-redis's Pub/Sub layer, which sends a board event to Redis once per
            # daphne process instead of once per watcher (bench/README.md has the fan-out
            # figures of both). Events pushed while a watcher is away are caught up from
            # the log by sequence number either way.
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer"
            if env_str("CHANNEL_LAYER_BACKEND", "core") == "pubsub"
            else "live.redis_layer.RedisChannelLayer",
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": REDIS_SOCKET_TIMEOUT}],
                "prefix": env_str("CHANNEL_LAYER_PREFIX", "agent_kanban"),
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # Channels' own in-memory layer sweeps every channel and group on each receive,
    # quadratic in the watchers of a board (issue 18); this one sweeps once a second.
    CHANNEL_LAYERS = {"default": {"BACKEND": "live.channel_layer.InMemoryChannelLayer"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/api/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]
SERVE_STATIC = env_bool("SERVE_STATIC", ENVIRONMENT != "production")

CORS_ALLOWED_ORIGINS = env_list("CORS_ORIGINS")

# django-ratelimit's own switch; the rates are in the rate limits block below.
RATELIMIT_ENABLE = env_bool("RATELIMIT_ENABLE", True)

DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("MAX_REQUEST_BYTES", 1_048_576)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "agents.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "core.pagination.EnvelopePagination",
    "DEFAULT_PARSER_CLASSES": [
        "core.parsers.StrictJSONParser",  # refuses unpaired surrogates with a 400
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "PAGE_SIZE": env_int("API_PAGE_SIZE", 50),
    "EXCEPTION_HANDLER": "core.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DATETIME_FORMAT": "iso-8601",
}
API_MAX_PAGE_SIZE = env_int("API_MAX_PAGE_SIZE", 500)
API_TOKEN_TOUCH_SECONDS = env_int("API_TOKEN_TOUCH_SECONDS", 60)

# Claims: how long a claim lasts unless renewed by a heartbeat, the longest lease an
# agent may ask for, and how often `claim next` retries when racing agents win first.
CLAIM_LEASE_SECONDS = env_int("CLAIM_LEASE_SECONDS", 15 * 60)
CLAIM_LEASE_MAX_SECONDS = env_int("CLAIM_LEASE_MAX_SECONDS", 24 * 60 * 60)
CLAIM_NEXT_ATTEMPTS = env_int("CLAIM_NEXT_ATTEMPTS", 20)
# The least time between two progress reports on one ticket (each is pushed to watchers).
PROGRESS_MIN_INTERVAL_SECONDS = env_int("PROGRESS_MIN_INTERVAL_SECONDS", 2)

SPECTACULAR_SETTINGS = {
    "TITLE": "Agent Kanban API",
    "DESCRIPTION": "A kanban board where AI agents and humans coordinate work.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.openapi_errors.add_error_responses",  # 4xx: the error envelope
    ],
}

APPEND_SLASH = False

# Real-time delivery. WebSocket: a heartbeat every WS_HEARTBEAT_SECONDS (a client
# silent for three is closed), a cap on connections per daphne process, the largest
# message a client may send, and how many boards one connection may watch.
# Server-sent events are pushed from the channel layer; a stream reads the event log
# to catch up, every SSE_POLL_MS when the layer is this process's own (writers in other
# processes reach it only through the log), else once a heartbeat; SSE_MAX_STREAMS per
# daphne process.
WS_HEARTBEAT_SECONDS = env_int("WS_HEARTBEAT_SECONDS", 25)
WS_MAX_CONNECTIONS = env_int("WS_MAX_CONNECTIONS", 1000)
WS_MAX_MESSAGE_BYTES = env_int("WS_MAX_MESSAGE_BYTES", 64 * 1024)
WS_MAX_BOARDS = env_int("WS_MAX_BOARDS", 100)
SSE_POLL_MS = env_int("SSE_POLL_MS", 500)
SSE_MAX_STREAMS = env_int("SSE_MAX_STREAMS", 1000)
SSE_HEARTBEAT_SECONDS = env_int("SSE_HEARTBEAT_SECONDS", 15)
# MCP requests run their database work on a pool of MCP_THREADS threads of their own
# (mcp_server/threads.py), so tool calls that wait delay no watcher. The default is the
# size of asyncio's default pool, which event streams use, and two below the process's
# database pool, so that MCP calls waiting on locks never hold all its connections.
_mcp_threads = min(32, (os.cpu_count() or 1) + 4)
_database_pool = DATABASES["default"].get("OPTIONS", {}).get("pool")
if isinstance(_database_pool, dict):
    _mcp_threads = max(1, min(_mcp_threads, _database_pool["max_size"] - 2))
MCP_THREADS = env_int("MCP_THREADS", _mcp_threads)

# Outgoing webhooks (webhooks app; README "Webhooks"). Deliveries are made from the board
# event log by a deliverer: the server process itself in the embedded shape
# (WEBHOOKS_DELIVER_IN_PROCESS, on with SQLite outside production),
# else `manage.py deliver_webhooks`. It looks for new events every WEBHOOKS_POLL_MS and
# sends up to WEBHOOKS_CONCURRENCY webhooks' deliveries at once; an attempt gets
# WEBHOOKS_TIMEOUT_SECONDS. A failed attempt is tried again after
# WEBHOOKS_RETRY_BASE_SECONDS * WEBHOOKS_RETRY_FACTOR^(n-1), WEBHOOKS_MAX_ATTEMPTS in
# all (8 s, 24 s, … about 22 hours), then the delivery has failed; after
# WEBHOOKS_DISABLE_AFTER_FAILURES failed deliveries in a row the webhook is switched off.
# Finished deliveries are kept WEBHOOKS_KEEP_DAYS days. Receivers on loopback, private or
# link-local addresses are refused unless WEBHOOKS_ALLOW_PRIVATE_ADDRESSES.
WEBHOOKS_DELIVER_IN_PROCESS = env_bool(
    "WEBHOOKS_DELIVER_IN_PROCESS",
    ENVIRONMENT != "production" and DATABASES["default"]["ENGINE"].endswith("sqlite3"),
)
WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = env_bool("WEBHOOKS_ALLOW_PRIVATE_ADDRESSES", False)
WEBHOOKS_POLL_MS = env_int("WEBHOOKS_POLL_MS", 50)
WEBHOOKS_CONCURRENCY = env_int("WEBHOOKS_CONCURRENCY", 4)
WEBHOOKS_TIMEOUT_SECONDS = env_float("WEBHOOKS_TIMEOUT_SECONDS", 10.0)
WEBHOOKS_RETRY_BASE_SECONDS = env_float("WEBHOOKS_RETRY_BASE_SECONDS", 8.0)
WEBHOOKS_RETRY_FACTOR = env_float("WEBHOOKS_RETRY_FACTOR", 3.0)
WEBHOOKS_MAX_ATTEMPTS = env_int("WEBHOOKS_MAX_ATTEMPTS", 10)
WEBHOOKS_DISABLE_AFTER_FAILURES = env_int("WEBHOOKS_DISABLE_AFTER_FAILURES", 20)
WEBHOOKS_KEEP_DAYS = env_int("WEBHOOKS_KEEP_DAYS", 30)

# Statistics (stats app): a column's colour needs at least STATS_MIN_SAMPLES completed
# stays in the last STATS_WINDOW_DAYS days; heavier figures are cached this long (the
# key also carries the board's event sequence, so a write never leaves them stale).
STATS_MIN_SAMPLES = env_int("STATS_MIN_SAMPLES", 10)
STATS_WINDOW_DAYS = env_int("STATS_WINDOW_DAYS", 90)
STATS_CACHE_SECONDS = env_int("STATS_CACHE_SECONDS", 300)

# Hardening (agent_kanban/production.py, core/security.py). Every environment
# sends the security headers; ENVIRONMENT=production refuses DEBUG, a weak SECRET_KEY and
# empty ALLOWED_HOSTS / CORS_ORIGINS at start-up, and turns on HTTPS-only cookies, HSTS
# and the SSL redirect (TLS ends at the proxy, which sets X-Forwarded-Proto).
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = env_str("SECURE_REFERRER_POLICY", "same-origin")
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
if ENVIRONMENT == "production":
    production.require_production_ready(
        debug=DEBUG,
        secret_key=SECRET_KEY,
        allowed_hosts=env_list("ALLOWED_HOSTS"),  # the localhost default is no answer
        cors_origins=CORS_ALLOWED_ORIGINS,
    )
    # SESSION_COOKIE_SECURE, CSRF_COOKIE_SECURE, the SECURE_HSTS_* and SECURE_SSL_*
    # settings, SECURE_PROXY_SSL_HEADER, SECURE_REDIRECT_EXEMPT, SILENCED_SYSTEM_CHECKS:
    # defined nowhere else.
    globals().update(production.secure_transport_settings())

# Tokens and audit (agents, audit apps): a WebSocket client may send at most
# WS_MAX_MESSAGES_PER_MINUTE messages a minute (bursts up to the same number); past it
# the connection gets an error frame and is closed with 4429. The audit page lists
# AUDIT_PAGE_SIZE events a page.
WS_MAX_MESSAGES_PER_MINUTE = env_int("WS_MAX_MESSAGES_PER_MINUTE", 120)
AUDIT_PAGE_SIZE = env_int("AUDIT_PAGE_SIZE", 50)

# Observability (core/metrics.py, core/request_id.py, core/log_format.py). /metrics serves
# Prometheus figures while METRICS_ENABLED; with METRICS_TOKEN set it needs
# `Authorization: Bearer <token>`, with METRICS_ALLOWED_IPS (addresses or CIDR nets) only
# those clients get it; in production one of the two is required, else 403. Several
# processes share their figures through PROMETHEUS_MULTIPROC_DIR (read from the process
# environment, see core/metrics.py). Every request gets an X-Request-ID carried by its log
# lines and error envelope; LOG_FORMAT=json writes one JSON object a line; ACCESS_LOG
# writes one line per request (logger agent_kanban.access).
METRICS_ENABLED = env_bool("METRICS_ENABLED", True)
METRICS_TOKEN = env_str("METRICS_TOKEN")
METRICS_ALLOWED_IPS = env_list("METRICS_ALLOWED_IPS")
ACCESS_LOG = env_bool("ACCESS_LOG", True)
LOG_FORMAT = env_str("LOG_FORMAT", "json" if ENVIRONMENT == "production" else "plain")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "core.log_format.RequestIdFilter"},
        # A Redis outage: one line when it starts, one when it ends (core/outages.py).
        "outages": {"()": "core.outages.OutageLogFilter"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s [%(levelname)s] %(name)s [%(request_id)s]: %(message)s"},
        "json": {"()": "core.log_format.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["outages", "request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Rate and input limits (core/ratelimits.py and agents/ratelimits.py for HTTP,
# live/limits.py and mcp_server/limits.py for WebSocket and MCP, core/uploads.py). Rates
# like 60/m, 10/5m or 1000/h, or `off`; counters live in the default cache (Redis when
# REDIS_URL is set, so every instance shares them), RATELIMIT_ENABLE=false turns all off.
# TRUSTED_PROXIES: addresses or CIDR nets of the proxies (nginx) whose X-Forwarded-For is
# believed; with it empty the peer address is the client. A cache outage lets requests
# through (RATELIMIT_FAIL_OPEN) rather than refusing them all.
RATELIMIT_WRITE = env_rate("RATELIMIT_WRITE", "60/m")
RATELIMIT_BULK = env_rate("RATELIMIT_BULK", "10/m")
RATELIMIT_LOGIN = env_rate("RATELIMIT_LOGIN", "10/m")
RATELIMIT_WS_CONNECT = env_rate("RATELIMIT_WS_CONNECT", "10/m")
RATELIMIT_PER_IP = env_rate("RATELIMIT_PER_IP", "1200/m")
RATELIMIT_FAIL_OPEN = True
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES")
BULK_MAX_ITEMS = env_int("BULK_MAX_ITEMS", 500)
FILE_UPLOAD_HANDLERS = ["core.uploads.RefuseFileUploads"]
