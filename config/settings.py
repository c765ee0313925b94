"""VeriSOTA settings, read from the environment.

With nothing set, the site runs embedded: SQLite, media and a file-system Celery broker under
``var/``, DEBUG off (``DEBUG=1`` turns Django's debug pages on), for 127.0.0.1 and localhost,
with a secret key generated once and kept in ``var/secret_key``. Production sets DATABASE_URL,
CELERY_BROKER_URL, CACHE_URL, SECRET_KEY, ALLOWED_HOSTS, SITE_URL (https://...) and
TRUSTED_PROXY_COUNT (docs/deployment.md). Every helper below fails loudly on a value it cannot
read.
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from maml_ref import datadir as maml_datadir

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))


def env_str(name: str, default: str) -> str:
    """The variable's value; unset or empty means the default."""
    return os.environ.get(name) or default


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no).")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer.") from None


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a number.") from None


def env_rate(name: str, default: str) -> str:
    """A throttle rate ("30/minute"); "off" (or "0", "none") for no limit; unset or empty: the
    default."""
    raw = (os.environ.get(name) or "").strip()
    if not raw:
        return default
    if raw.lower() in ("off", "0", "none"):
        return ""
    try:
        count, period = raw.split("/")
        int(count)
        assert period.strip()[:1] in ("s", "m", "h", "d")
    except (ValueError, AssertionError):
        raise ImproperlyConfigured(f"{name}={raw!r} is not a rate like 30/hour (or off).") from None
    return raw


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def kept_secret_key(path: Path) -> str:
    """The key in ``path``, written there once (random, readable by its owner only) if absent:
    a fresh machine runs without SECRET_KEY set, and sessions survive a restart. Several
    machines serving one site must share SECRET_KEY instead (docker-compose.yml requires it)."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process wrote it first: use theirs
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY", "") or kept_secret_key(VAR_DIR / "secret_key")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000")
# Served over HTTPS (by default: SITE_URL is https://): secure cookies, HSTS, the redirect of
# http:// requests. Behind a reverse proxy that terminates TLS, TRUSTED_PROXY_COUNT (below)
# makes Django believe its X-Forwarded-Proto.
HTTPS = env_bool("HTTPS", SITE_URL.startswith("https://"))
# The reverse proxies in front of the web server (docker-compose.yml: one, Caddy). 0: the client
# is the connection's address (REMOTE_ADDR) and X-Forwarded-* headers are ignored, as anyone can
# send them. N > 0: the client address is read from X-Forwarded-For as N proxies write it, and
# the scheme from X-Forwarded-Proto (leaderboard.throttles.client_address, django-ipware).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
TRUSTED_PROXY_IPS = env_list("TRUSTED_PROXY_IPS", [])
if TRUSTED_PROXY_COUNT > 0:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",  # search lookups on PostgreSQL; inert on SQLite
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "leaderboard",
    "evaluator",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.security.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "config.api_errors.ApiQueryMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a log-in refused by the lock-out into its 429 (evaluator.limits).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
]

DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory, so that a worker process started by a test sees the test database.
    DATABASES["default"]["TEST"] = {
        "NAME": env_str("TEST_DATABASE_NAME", str(VAR_DIR / "test.sqlite3"))
    }
    # IMMEDIATE: a transaction takes the write lock when it begins, so a worker and the web server
    # writing at once wait for each other (timeout) instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
elif os.environ.get("TEST_DATABASE_NAME"):
    DATABASES["default"]["TEST"] = {"NAME": os.environ["TEST_DATABASE_NAME"]}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The read cache (counts, the home page's figures, page and API responses, the read throttles'
# counters):
# per process by default; shared by every web process when CACHE_URL names a Redis server
# (production and CI). The cache is an optimisation: with django-redis' IGNORE_EXCEPTIONS an
# unreachable or failing Redis is logged (logger "django_redis.cache") and each call answers as a
# miss, so pages and the API are computed uncached instead of failing; the short socket timeouts
# bound what a hung server costs a request. No limit depends on it (docs/security.md).
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
DJANGO_REDIS_LOGGER = "verisota.cache"  # one line per process every 10 s (config/log_filters.py)
CACHE_URL = env_str("CACHE_URL", "")
# The response cache of anonymous GETs, the catalogue's pages and the read APIs alike
# (leaderboard/core/cache.py): the cache alias "responses" below, keyed on the catalogue version,
# with ETags. Per process, at most RESPONSE_CACHE_ENTRIES responses (least recently used out
# first; 0: the response cache and its version query off); shared through Redis with CACHE_URL.
# A body over RESPONSE_CACHE_MAX_BODY bytes is computed every time.
RESPONSE_CACHE_ENTRIES = env_int("RESPONSE_CACHE_ENTRIES", 1000)
RESPONSE_CACHE_MAX_BODY = env_int("RESPONSE_CACHE_MAX_BODY", 2 * 1024 * 1024)


def redis_cache(url: str, key_prefix: str = "verisota") -> dict:
    """The cache settings for a Redis at ``url`` (the tests build theirs with it too)."""
    return {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": url,
        "KEY_PREFIX": key_prefix,
        "TIMEOUT": env_int("CACHE_SECONDS", 24 * 3600),
        "OPTIONS": {
            "IGNORE_EXCEPTIONS": True,
            "SOCKET_CONNECT_TIMEOUT": env_float("CACHE_CONNECT_TIMEOUT", 0.25),
            "SOCKET_TIMEOUT": env_float("CACHE_SOCKET_TIMEOUT", 0.5),
        },
    }


def redis_caches(url: str, key_prefix: str = "verisota") -> dict:
    """Both aliases on the Redis at ``url``: ``default`` (values, throttle counters) and
    ``responses`` (the response cache), apart by their key prefix."""
    return {
        "default": redis_cache(url, key_prefix),
        "responses": redis_cache(url, f"{key_prefix}-responses"),
    }


if CACHE_URL:
    if not CACHE_URL.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured(f"CACHE_URL={CACHE_URL!r} is not a redis:// URL.")
    CACHES = redis_caches(CACHE_URL, env_str("CACHE_KEY_PREFIX", "verisota"))
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "verisota",
            "TIMEOUT": env_int("CACHE_SECONDS", 24 * 3600),
            "OPTIONS": {"MAX_ENTRIES": 5000},
        },
        "responses": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "verisota-responses",
            "TIMEOUT": env_int("CACHE_SECONDS", 24 * 3600),
            # A full cache drops its least recently used tenth (locmem culls 1/CULL_FREQUENCY).
            "OPTIONS": {"MAX_ENTRIES": max(RESPONSE_CACHE_ENTRIES, 1), "CULL_FREQUENCY": 10},
        },
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "leaderboard:home"
LOGOUT_REDIRECT_URL = "leaderboard:home"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # collectstatic fills it; whitenoise wants it
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# The archive export (/api/export/evaluation-tables.json), written once per catalogue version
# (leaderboard/export_files.py).
EXPORT_DIR = Path(env_str("EXPORT_DIR", str(VAR_DIR / "exports")))

# Uploads: checkpoints are at most 50 MB; anything above this limit goes to a temporary file.
MAX_CHECKPOINT_BYTES = env_int("MAX_CHECKPOINT_BYTES", 50 * 1024 * 1024)

# Where `manage.py import_archive --fetch` downloads the archive's five files from (a mirror;
# --base-url overrides it). Papers With Code's own address by default.
ARCHIVE_URL = env_str("VERISOTA_ARCHIVE_URL", "https://production-media.paperswithcode.com/about")
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# Uploads over FILE_UPLOAD_MAX_MEMORY_SIZE, and the copies validation makes, are written here,
# never to the system's temporary directory; files a killed server left behind are removed at
# start-up once older than FILE_UPLOAD_STALE_SECONDS (evaluator.apps, evaluator.validation.uploads).
FILE_UPLOAD_TEMP_DIR = str(Path(env_str("FILE_UPLOAD_TEMP_DIR", str(VAR_DIR / "uploads"))))
FILE_UPLOAD_STALE_SECONDS = env_int("FILE_UPLOAD_STALE_SECONDS", 15 * 60)
# A JSON request body of the API (a claim and its configuration): at most this many bytes,
# nested at most this deep, integers of at most this many digits (leaderboard/core/parsers.py).
API_JSON_MAX_BYTES = env_int("API_JSON_MAX_BYTES", 512 * 1024)
API_JSON_MAX_DEPTH = env_int("API_JSON_MAX_DEPTH", 32)
API_JSON_MAX_INT_DIGITS = env_int("API_JSON_MAX_INT_DIGITS", 20)

# HTTPS: secure cookies, HSTS (a year, subdomains, preload) and the redirect of http:// requests,
# each on by default when the site is served over HTTPS and each settable alone. The health
# check's ping is served over either scheme (docker-compose.yml calls it inside the network).
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", HTTPS)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", HTTPS)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", HTTPS)
SECURE_REDIRECT_EXEMPT = [r"^api/_ping/?$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 365 * 24 * 3600 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", HTTPS)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", HTTPS)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# The Content-Security-Policy of every page (config/security.py); report-only to try a change.
CSP_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
CSP_REPORT_ONLY = env_bool("CSP_REPORT_ONLY", False)
CSRF_FAILURE_VIEW = "config.api_errors.csrf_failure"

# Limits (docs/security.md, "Limits"). None depends on the cache being up: the submission cap
# and the log-in lock-out count in the database; the read throttles count in the cache and go
# on in each process's memory while it is down (leaderboard/throttles.py).
#
# Submissions per user: at most SUBMISSION_RATE stored in any rolling period (counted from the
# submissions table in the transaction that stores one, after locking the user's row, so
# concurrent requests cannot pass it together: evaluator/limits.py); every POST to the form or
# the API, valid or not, at most SUBMISSION_ATTEMPT_RATE; active (queued or running) runs per
# queue at most EVALUATOR_MAX_ACTIVE_RUNS.
SUBMISSION_RATE = env_rate("SUBMISSION_RATE", "30/hour")
SUBMISSION_ATTEMPT_RATE = env_rate("SUBMISSION_ATTEMPT_RATE", "120/hour")
EVALUATOR_MAX_ACTIVE_RUNS = {
    "cpu": env_int("EVALUATOR_MAX_ACTIVE_CPU_RUNS", 10),
    "gpu": env_int("EVALUATOR_MAX_ACTIVE_GPU_RUNS", 1),  # one reproduction at a time
}
# The log-in lock-out (django-axes, counting in the database): after LOGIN_FAILURE_LIMIT failed
# log-ins for one user name (NFKC-normalised and case-folded, so look-alike spellings share one
# count) from one client address (client_address above), that pair is refused for
# LOGIN_LOCKOUT_SECONDS with a 429 and Retry-After, on the site's and the admin's log-in.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
LOGIN_LOCKOUT_SECONDS = env_int("LOGIN_LOCKOUT_SECONDS", 15 * 60)
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(seconds=LOGIN_LOCKOUT_SECONDS)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_CALLABLE = "evaluator.limits.lockout_username"
AXES_CLIENT_IP_CALLABLE = "evaluator.limits.lockout_address"
AXES_LOCKOUT_CALLABLE = "evaluator.limits.lockout_response"
AXES_RESET_ON_SUCCESS = True
# A refused attempt while locked does not restart the clock: Retry-After stays true.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_VERBOSE = False
# Anonymous reads, searches and the export of the read API, per client (leaderboard/throttles.py).
THROTTLE_ANON_READS = env_rate("THROTTLE_ANON_READS", "300/minute")
THROTTLE_SEARCH = env_rate("THROTTLE_SEARCH", "30/minute")
THROTTLE_EXPORT = env_rate("THROTTLE_EXPORT", "60/hour")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "DEFAULT_PARSER_CLASSES": [
        "leaderboard.core.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "config.api_errors.exception_handler",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "VeriSOTA API",
    "DESCRIPTION": "Leaderboard results that were re-run before they were published.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Upload fields are "format: binary" in request bodies (not the "uri" of responses).
    "COMPONENT_SPLIT_REQUEST": True,
    # Every error code an operation can answer, with its JSON body (config/openapi.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.openapi.document_errors",
        "config.openapi.add_links",
    ],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "ResultEvaluationModeEnum": "leaderboard.models.Result.EvaluationMode",
        "SubmissionEvaluationModeEnum": "evaluator.serializers.MODES",
    },
}

# Celery. Embedded default: the file-system transport under var/broker (no server needed).
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # An unacknowledged message (acks_late) comes back after this long: above the longest hard
    # time limit of any protocol (24 h + 10 min), so a long training is never run twice; a dead
    # worker's run is re-queued sooner by the reaper (EVALUATOR_STALE_AFTER_SECONDS).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 25 * 3600)
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Two queues: cpu (evaluate a checkpoint, minutes) and gpu (reproduce by training, hours).
CELERY_TASK_DEFAULT_QUEUE = "cpu"
CELERY_TASK_ROUTES = {
    "evaluator.tasks.verify_run": {"queue": "cpu"},  # runs.dispatch names the queue per kind
    "evaluator.tasks.reap_stale_runs": {"queue": "cpu"},
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# The reaper of runs left "running" by a dead worker (also run once at every worker start).
EVALUATOR_HEARTBEAT_SECONDS = env_int("EVALUATOR_HEARTBEAT_SECONDS", 5)
EVALUATOR_STALE_AFTER_SECONDS = env_int("EVALUATOR_STALE_AFTER_SECONDS", 60)
EVALUATOR_MAX_ATTEMPTS = env_int("EVALUATOR_MAX_ATTEMPTS", 3)
EVALUATOR_RESEND_QUEUED_AFTER_SECONDS = env_int("EVALUATOR_RESEND_QUEUED_AFTER_SECONDS", 1800)
EVALUATOR_REAP_INTERVAL_SECONDS = env_int("EVALUATOR_REAP_INTERVAL_SECONDS", 60)
CELERY_BEAT_SCHEDULE = {
    "reap-stale-runs": {
        "task": "evaluator.tasks.reap_stale_runs",
        "schedule": EVALUATOR_REAP_INTERVAL_SECONDS,
        "options": {"queue": "cpu", "expires": EVALUATOR_REAP_INTERVAL_SECONDS},
    }
}
# Appended to the queue names (cpu, gpu): empty in production; tests isolate their workers.
EVALUATOR_QUEUE_SUFFIX = env_str("EVALUATOR_QUEUE_SUFFIX", "")
# Tests only: fewer evaluation episodes than the protocol's (600 on Omniglot). Never in production.
MAML_EVAL_EPISODES = env_int("MAML_EVAL_EPISODES", 0) or None
MAML_DEVICE = env_str("MAML_DEVICE", "") or None  # unset: cuda where present, else cpu
# Reproduce runs (evaluator/worker.py, measure): the full training state is saved every this many
# seconds (and at the end, and when cancelled) to resume a killed worker's run where it was;
# the validation curve on the run's page: every MAML_VALIDATE_EVERY iterations, on
# MAML_VALIDATE_EPISODES fixed meta-validation episodes (0: no curve).
MAML_STATE_EVERY_SECONDS = env_int("MAML_STATE_EVERY_SECONDS", 300)
MAML_VALIDATE_EVERY = env_int("MAML_VALIDATE_EVERY", 500)
MAML_VALIDATE_EPISODES = env_int("MAML_VALIDATE_EPISODES", 100)
# Progress bars of long commands (import_archive) on a terminal; none under CI ($CI set).
PROGRESS_BARS = not env_str("CI", "")

# Where the reference implementation reads its data (Omniglot npz or zips).
# maml_ref's one rule (maml_ref.datadir): $MAML_DATA_DIR, else ../shared/data/omniglot.
MAML_DATA_DIR = str(maml_datadir.data_dir(env_str("MAML_DATA_DIR", "") or None))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"cache_errors": {"()": "config.log_filters.CacheErrors", "interval": 10}},
    "handlers": {
        "console": {"class": "logging.StreamHandler"},
        "cache_console": {"class": "logging.StreamHandler", "filters": ["cache_errors"]},
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "verisota.cache": {"handlers": ["cache_console"], "level": "WARNING", "propagate": False},
    },
}
