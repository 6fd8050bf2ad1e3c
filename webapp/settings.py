"""One settings module, driven by environment variables with safe local defaults.

DATABASE_URL (default: SQLite in var/), REDIS_URL, SECRET_KEY, DEBUG, ALLOWED_HOSTS.
A bad value fails loudly at start-up rather than half-working.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
import plotly
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("LOSSLAB_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from None


DEBUG = env_bool("DEBUG", True)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "django-insecure-local-only-" + "x" * 40
ALLOWED_HOSTS = [h for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "ninja",  # its templates and static files: /api/docs serves Swagger UI from the package, never a CDN
    "experiments",
    "workers",
    "webapp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before CSRF and authentication read an API body: unreadable bodies are answered in JSON.
    "webapp.middleware.ApiBodyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Deny by default: every page needs a login unless marked otherwise; the API answers 401 itself.
    "webapp.middleware.LoginRequiredExceptApiMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "webapp.middleware.RefusedMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks
]

ROOT_URLCONF = "webapp.urls"
WSGI_APPLICATION = "webapp.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "webapp" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "webapp.context_processors.teams",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'losslab.sqlite3'}"), conn_max_age=60
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server read while a worker writes; IMMEDIATE avoids upgrade deadlocks.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # A file, not :memory:, so that worker processes in the integration tests share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
    DATABASES["default"]["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses a locked-out login before the password is checked
    "django.contrib.auth.backends.ModelBackend",
]
# Login throttling (django-axes): after AXES_FAILURE_LIMIT wrong passwords for one username from
# one address, that pair is locked out for the cool-off time. Username+IP rather than username
# alone, so that a stranger cannot lock a colleague out of their own account from elsewhere.
AXES_ENABLED = env_bool("LOSSLAB_AXES_ENABLED", True)
AXES_FAILURE_LIMIT = env_int("LOSSLAB_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOSSLAB_LOGIN_COOLOFF_MIN", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/lockout.html"
AXES_VERBOSE = False

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
# Where `collectstatic` writes (the Docker image runs it when it is built); outside VAR_DIR, which is a volume there.
STATIC_ROOT = Path(os.environ.get("LOSSLAB_STATIC_ROOT", BASE_DIR / "staticfiles"))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns at each start when it is missing
# Plotly.js is served from the installed plotly package: no CDN, works on closed networks.
STATICFILES_DIRS = [
    BASE_DIR / "webapp" / "static",
    ("vendor/plotly", Path(plotly.__file__).parent / "package_data"),
]
WHITENOISE_USE_FINDERS = True  # files as they are in the tree, for `make run` and the tests
if not DEBUG:
    # Production: pages link the copies `collectstatic` wrote, named by a hash of their content, gzipped
    # (plotly.min.js: 4.8 MB → 1.5 MB on the wire) and cached by browsers for a year. Starting without
    # them is refused by the system check losslab.E001 (webapp/apps.py), which `migrate` runs.
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }

# Uploaded CSVs live outside the web root and are served only through a team-checked view.
UPLOAD_DIR = Path(os.environ.get("LOSSLAB_UPLOAD_DIR", VAR_DIR / "uploads"))
UPLOAD_MAX_BYTES = env_int("LOSSLAB_UPLOAD_MAX_MB", 20) * 1024 * 1024
# Django keeps uploads up to this size in memory, larger ones in a temp file; either way we read at most the limit.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# Standard datasets (MNIST, CIFAR-10…) shared by the workers; `manage.py datasets` fills it. The training
# engine resolves the same default itself (workers.training.datasets.default_data_dir), without Django.
DATA_DIR = Path(os.environ.get("LOSSLAB_DATA_DIR") or VAR_DIR / "datasets")

# --- Per-user launch limits (429 on the API, a form error on the page); a sweep counts each run.
RUNS_PER_MINUTE = env_int("LOSSLAB_RUNS_PER_MINUTE", 120)
MAX_QUEUED_PER_USER = env_int("LOSSLAB_MAX_QUEUED_PER_USER", 500)
CHECKPOINT_DIR = Path(os.environ.get("LOSSLAB_CHECKPOINT_DIR", VAR_DIR / "checkpoints"))
# A finished run's final weights, downloadable from its page (experiments/storage.py).
MODEL_DIR = Path(os.environ.get("LOSSLAB_MODEL_DIR", VAR_DIR / "models"))
# Hours a finished run keeps its checkpoints (and its model file, unless the user keeps it).
CHECKPOINT_RETENTION_H = env_float("LOSSLAB_CHECKPOINT_RETENTION_H", 24.0)
PRUNE_EVERY_S = env_float("LOSSLAB_PRUNE_EVERY_S", 600.0)  # how often the scheduler applies the retention

# --- Celery: long GPU runs, one per worker process. See docs in workers/tasks.py.
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
LONGEST_RUN_S = env_int("LOSSLAB_LONGEST_RUN_S", 24 * 3600)
CELERY_BROKER_URL = REDIS_URL
VISIBILITY_TIMEOUT = env_int("LOSSLAB_VISIBILITY_TIMEOUT", 2 * LONGEST_RUN_S)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # An un-acked ticket comes back after this long; the claim makes that harmless, this makes it rare.
    "visibility_timeout": VISIBILITY_TIMEOUT,
    # kombu sweeps for such tickets every interval x throttle seconds (100 s by default); keep the
    # sweep well inside a short visibility timeout (tests, drills) without scanning Redis needlessly.
    "unacked_restore_interval": max(1, min(10, VISIBILITY_TIMEOUT // 4)),
    "unacked_restore_throttle": 1 if VISIBILITY_TIMEOUT < 1000 else 10,
}
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True  # bounded by the DB's attempt cap
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Off: a Redis restart must not interrupt hours of training. The DB, not the message, owns the run;
# the un-acked ticket is only a wake-up, and a redelivered copy claims nothing.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = "runs"
# Each worker also listens on its own queue (<name>.dq2): an idle worker that holds a standard set wakes
# itself for a run on it, which a ticket on the shared queue may have woken a worker without the set for.
CELERY_WORKER_DIRECT = True
RECONCILE_S = env_float("LOSSLAB_RECONCILE_S", 5.0)  # how often the scheduler reaps and re-sends

# --- Run life cycle
LEASE_S = env_float("LOSSLAB_LEASE_S", 30.0)  # a run whose worker has not beaten for this long is lost
HEARTBEAT_S = env_float("LOSSLAB_HEARTBEAT_S", 1.0)  # also the cancel-poll interval
MAX_ATTEMPTS = env_int("LOSSLAB_MAX_ATTEMPTS", 3)
# A training worker writes its buffered points (and the live summary and diagnosis) at most this often,
# and checkpoints at the first epoch end this long after its last checkpoint: epochs of a few ms do not
# each pay for a transaction and a checkpoint file; a worker killed mid-run redoes at most this much.
METRIC_FLUSH_S = env_float("LOSSLAB_METRIC_FLUSH_S", 2.0)
CHECKPOINT_EVERY_S = env_float("LOSSLAB_CHECKPOINT_EVERY_S", 2.0)
# Import torch in each pool process at start, so a worker's first run starts training at once. It costs
# about 280 MB per idle pool process; `make run` (runlocal) turns it off to stay small on a laptop.
WORKER_WARM_UP = env_bool("LOSSLAB_WORKER_WARM_UP", True)
# A pool process that trained has torch and the run's tensors in memory (about 400 MB more than an idle
# one); without warm-up, a new pool process takes each ticket, so an idle worker returns to its idle
# footprint after every run. With warm-up, the process keeps torch on purpose: no recycling (0).
CELERY_WORKER_MAX_TASKS_PER_CHILD = env_int("LOSSLAB_WORKER_MAX_TASKS_PER_CHILD", 0 if WORKER_WARM_UP else 1) or None
WORKER_HEARTBEAT_S = env_float("LOSSLAB_WORKER_HEARTBEAT_S", 5.0)  # the Worker row: device, memory, liveness
WORKER_STALE_S = env_float("LOSSLAB_WORKER_STALE_S", 30.0)  # no heartbeat for this long: shown offline

# --- Fault injection (tests and drills; off by default). A run whose batch_size is at least
# LOSSLAB_FAULT_OOM_MIN_BATCH raises CUDA's out-of-memory error at step LOSSLAB_FAULT_OOM_AT_STEP.
FAULT_OOM_AT_STEP = env_int("LOSSLAB_FAULT_OOM_AT_STEP", -1)
FAULT_OOM_AT_STEP = None if FAULT_OOM_AT_STEP < 0 else FAULT_OOM_AT_STEP
FAULT_OOM_MIN_BATCH = env_int("LOSSLAB_FAULT_OOM_MIN_BATCH", 0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
