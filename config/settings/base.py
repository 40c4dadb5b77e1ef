"""Settings shared by every environment; production is this module plus environment variables.

Every value that differs between deployments is read from the environment through django-environ.
Defaults here are the safe, production ones: ``DEBUG`` is off and, with it off, ``SECRET_KEY`` has no default.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
# Required whenever DEBUG is off: a missing SECRET_KEY stops the process with ImproperlyConfigured.
SECRET_KEY = env.str("SECRET_KEY", default="insecure-debug-only-key") if DEBUG else env.str("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("PORTAL_SITE_URL", default="http://localhost:8000")
FORMS_URLFIELD_ASSUME_HTTPS = True

# --- Applications -------------------------------------------------------------------------------------
DJANGO_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
]
THIRD_PARTY_APPS = [
    "axes",
    "django_htmx",
    "django_q",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "template_partials",
]
LOCAL_APPS = [
    # In layer order, lowest first (docs/decisions.md, import contracts in pyproject.toml): an app
    # imports only the apps listed before it.
    "apps.core",
    "apps.erp",
    "apps.accounts",
    "apps.catalog",
    "apps.pricing",
    "apps.purchase_orders",
    "apps.credit",
    "apps.approvals",
    "apps.quotes",
    "apps.order_lists",
    "apps.demo",
]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # After auth, messages and htmx: an account manager acting for a buyer (accounts.ActingSession).
    "apps.accounts.middleware.ActingMiddleware",
    "apps.core.middleware.HtmxMessagesMiddleware",
    # Axes must come last: it turns a locked-out login into its lockout response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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
                "apps.accounts.context_processors.portal_navigation",
            ],
        },
    },
]

# --- Database ------------------------------------------------------------------------------------------
# Default: a SQLite file in the project (the embedded setup). Production and CI: PostgreSQL.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web process and the qcluster workers write to the same file. WAL lets readers run beside
    # the writer, and IMMEDIATE transactions take the write lock at BEGIN, so a transaction waits on
    # busy_timeout instead of failing half-way with "database is locked" when it upgrades to a writer.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;PRAGMA busy_timeout=20000;"
            "PRAGMA foreign_keys=ON;"
        ),
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache & broker --------------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# django-q2 is transport only: our own tables hold attempts and backoff, so each task runs once
# (max_attempts=1) and a failure is acknowledged instead of redelivered. retry must exceed timeout,
# otherwise a slow task is handed to a second worker while the first still runs it.
Q_CLUSTER: dict[str, object] = {
    "name": "portal",
    "workers": env.int("Q_WORKERS", default=2),
    "timeout": env.int("Q_TIMEOUT", default=300),
    "retry": env.int("Q_RETRY", default=360),
    "max_attempts": 1,
    "ack_failures": True,
    "catch_up": False,
    "save_limit": 1000,
    "label": "Background tasks",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
# A worker proves it is alive by writing a heartbeat this often (seconds); the health page calls it
# stale past HEARTBEAT_STALE_AFTER.
HEARTBEAT_INTERVAL_MINUTES = 1
# How long an account manager may act for a buyer before the session ends itself.
ACTING_SESSION_MINUTES = env.int("ACTING_SESSION_MINUTES", default=30)
HEARTBEAT_STALE_AFTER_SECONDS = env.int("PORTAL_HEARTBEAT_STALE_AFTER", default=180)

# --- ERP sync ------------------------------------------------------------------------------------------
# The connection itself (URL, database, user) is read from these on start and kept as a row; the
# password stays in the environment variable that the row names.
ERP_SYNC_ENABLED = env.bool("ERP_SYNC_ENABLED", default=True)
# Which ERP: tryton | business_central | odoo (the README's table lists each one's variables).
ERP_KIND = env.str("ERP_KIND", default="tryton")
ERP_URL = env.str("ERP_URL", default="http://127.0.0.1:8800")
ERP_DATABASE = env.str("ERP_DATABASE", default="erp")
ERP_USERNAME = env.str("ERP_USERNAME", default="portal")
ERP_CONCURRENCY_LIMIT = env.int("ERP_CONCURRENCY_LIMIT", default=2)
# Business Central only: the Entra tenant and the BC environment and company (ERP_USERNAME is the app's
# client id, ERP_PASSWORD its client secret); the token URL defaults to the tenant's Entra endpoint.
ERP_BC_TENANT_ID = env.str("ERP_BC_TENANT_ID", default="")
ERP_BC_ENVIRONMENT = env.str("ERP_BC_ENVIRONMENT", default="production")
ERP_BC_COMPANY_ID = env.str("ERP_BC_COMPANY_ID", default="")
ERP_BC_TOKEN_URL = env.str("ERP_BC_TOKEN_URL", default="")
# A second ERP user, in Tryton's credit-limit group, that confirms only the orders whose credit hold
# finance released on purpose; without both a login and a password there is none and such orders report
# the ERP's credit error. ERP_FINANCE_USER is accepted too (the name ``tools/tryton/erp.py up`` prints).
ERP_FINANCE_USERNAME = env.str("ERP_FINANCE_USERNAME", default="") or env.str("ERP_FINANCE_USER", default="")
ERP_FINANCE_PASSWORD = env.str("ERP_FINANCE_PASSWORD", default="")
# Inbound: every stream is pulled at most this often; the scheduler ticks every 30 s, so a change in
# the ERP reaches the portal within one interval (30 s) plus one tick.
ERP_SYNC_INTERVAL_SECONDS = env.int("ERP_SYNC_INTERVAL_SECONDS", default=30)
# Tryton stamps rows with their transaction's start time, so a row can commit "in the past":
# each pull re-reads this far behind its cursor and skips what it already has.
ERP_PULL_OVERLAP_SECONDS = env.int("ERP_PULL_OVERLAP_SECONDS", default=300)
# 500 rows is about 0.3 s of Tryton time per page: long enough to amortise a call, short enough to
# commit progress often.
ERP_PULL_PAGE_SIZE = env.int("ERP_PULL_PAGE_SIZE", default=500)
# Outbound batch: one create call for up to 50 records (Tryton is ~10x faster per record in batches).
ERP_PUSH_BATCH_SIZE = env.int("ERP_PUSH_BATCH_SIZE", default=50)
ERP_JOB_MAX_ATTEMPTS = env.int("ERP_JOB_MAX_ATTEMPTS", default=8)
ERP_BACKOFF_BASE_SECONDS = env.float("ERP_BACKOFF_BASE_SECONDS", default=10.0)
ERP_BACKOFF_MAX_SECONDS = env.float("ERP_BACKOFF_MAX_SECONDS", default=3600.0)
# A claimed job belongs to its worker while the worker renews the claim (every third of this); a worker
# that died loses its jobs once its lease ran out and its last ERP call must have ended
# (ERP_LOST_CALL_SECONDS); a cluster on the same host notices its dead processes within seconds.
ERP_JOB_LEASE_SECONDS = env.int("ERP_JOB_LEASE_SECONDS", default=15)
# How long an ERP call can still run in the ERP after the worker that made it died or stopped in the middle
# of it (the ERP finishes a request whose client is gone): the HTTP timeout of the connection (30 s) and a
# margin. The jobs of such an attempt wait this long before another worker takes them, so the retry's
# look-up finds what the lost call did instead of creating the sale a second time.
ERP_LOST_CALL_SECONDS = env.int("ERP_LOST_CALL_SECONDS", default=35)
# A job in flight longer than this (its worker alive but stuck) shows on the monitor and alerts staff.
ERP_JOB_STUCK_SECONDS = env.int("ERP_JOB_STUCK_SECONDS", default=300)
# Due work waiting this long without a worker taking it alerts staff (the workers are down or swamped).
ERP_QUEUE_STALL_ALERT_SECONDS = env.int("ERP_QUEUE_STALL_ALERT_SECONDS", default=300)
# One dispatcher run stops claiming after this long and hands over to the next run, so a backlog never
# outlives the task timeout (Q_TIMEOUT) and a stopping cluster is never waiting on a long drain.
ERP_DISPATCH_MAX_SECONDS = env.int("ERP_DISPATCH_MAX_SECONDS", default=60)
# Requests for a dispatcher run are merged while one waits in the queue (one per submit would flood it);
# a request lost with its task expires after this, and the waker dispatches due work meanwhile.
ERP_DISPATCH_REQUEST_TTL_SECONDS = env.int("ERP_DISPATCH_REQUEST_TTL_SECONDS", default=10)
# At most this many dispatcher runs at once, across all clusters (through the cache): each loops until
# nothing is due, so more only wait on the ERP while the workers they hold are missing for the pulls.
ERP_DISPATCHERS = env.int("ERP_DISPATCHERS", default=2)
# Each qcluster's main process wakes this often: it takes back its dead processes' claims and asks for a
# dispatcher run when due work is waiting (a retry whose backoff ended, a claim that expired), so the
# outbox never waits for the minute schedule.
ERP_OUTBOX_WAKER = env.bool("ERP_OUTBOX_WAKER", default=True)
ERP_OUTBOX_WAKER_SECONDS = env.float("ERP_OUTBOX_WAKER_SECONDS", default=2.0)
# While jobs back off because the ERP could not be reached, the waker asks the ERP this often whether it
# answers again (one cheap call), and makes them due at once when it does.
ERP_OUTAGE_PROBE_SECONDS = env.float("ERP_OUTAGE_PROBE_SECONDS", default=5.0)
# Freshness (issue 12): one watcher in the deployment (a thread in a qcluster main process holding a lease
# in the cache) asks the ERP every ERP_WATCH_SECONDS, one cheap question per stream, whether anything
# changed after the stream's cursor, and pulls what did at once; a dead holder's lease expires after
# ERP_WATCH_LEASE_SECONDS. Open pages poll a tiny endpoint every ERP_PAGE_POLL_SECONDS and refresh what a
# pull changed. The scheduled pull (ERP_SYNC_INTERVAL_SECONDS) stays as the fallback.
ERP_WATCH_ENABLED = env.bool("ERP_WATCH_ENABLED", default=True)
ERP_WATCH_SECONDS = env.float("ERP_WATCH_SECONDS", default=2.0)
ERP_WATCH_LEASE_SECONDS = env.float("ERP_WATCH_LEASE_SECONDS", default=10.0)
ERP_PAGE_POLL_SECONDS = env.float("ERP_PAGE_POLL_SECONDS", default=2.0)
# ERPs that call back (Business Central): the portal's public base URL as the ERP reaches it, e.g.
# https://portal.example.com. Set, an hourly task subscribes to change notifications and renews them a
# day before they expire, and a notification asks the watcher to pull at once; empty: polling only.
ERP_WEBHOOK_BASE_URL = env.str("ERP_WEBHOOK_BASE_URL", default="")
# A pull holds its stream while it renews this per page; a dead puller's hold expires after it.
ERP_STREAM_LEASE_SECONDS = env.int("ERP_STREAM_LEASE_SECONDS", default=120)
ERP_STREAM_STALL_ALERT_SECONDS = env.int("ERP_STREAM_STALL_ALERT_SECONDS", default=600)
ERP_ALERT_EMAILS = env.list("ERP_ALERT_EMAILS", default=[])
# Local time ("HH:MM", TIME_ZONE) of the nightly reconciliation of every entity with the ERP. A daily
# schedule, not a cron expression: django-q2's CRON schedules need croniter, which the portal does not ship.
ERP_RECONCILE_AT = env.str("ERP_RECONCILE_AT", default="02:00")
ERP_CUSTOMER_CODE_PREFIX = env.str("ERP_CUSTOMER_CODE_PREFIX", default="WEB-")
# New ERP customers (parties with a customer payment term) become portal companies.
ERP_IMPORT_NEW_CUSTOMERS = env.bool("ERP_IMPORT_NEW_CUSTOMERS", default=True)
# A party carrying this category in the ERP is on credit hold there; the portal holds the company too.
ERP_HOLD_CATEGORY = env.str("ERP_HOLD_CATEGORY", default="Credit hold")

# --- Credit ----------------------------------------------------------------------------------------------
# An order goes to finance when the company has an invoice more than this many days past due (0: any
# invoice past its due date). A credit account may set its own number.
CREDIT_PAST_DUE_TOLERANCE_DAYS = env.int("CREDIT_PAST_DUE_TOLERANCE_DAYS", default=0)
# Exposure counts the orders still in the flow (submitted, awaiting approval, on credit hold) besides
# approved orders not yet invoiced and unpaid invoices. Off: only approved orders and invoices count.
CREDIT_EXPOSURE_INCLUDES_ORDERS_IN_FLOW = env.bool("CREDIT_EXPOSURE_INCLUDES_ORDERS_IN_FLOW", default=True)
# The buyer's credit meter warns from this share of the limit on.
CREDIT_WARNING_PERCENT = env.int("CREDIT_WARNING_PERCENT", default=80)
# Finance's queue: who is emailed when an order goes on credit hold (empty: the Finance group).
CREDIT_HOLD_EMAILS = env.list("CREDIT_HOLD_EMAILS", default=[])

# --- Quotes ----------------------------------------------------------------------------------------------
# An offered line more than this many percent below what the company pays without the quote (its tier,
# contract or list price; a quantity break counts) needs a second approval: a portal admin or an active
# member of the named group, never the person who made the offer.
QUOTE_DISCOUNT_APPROVAL_PERCENT = Decimal(env.str("QUOTE_DISCOUNT_APPROVAL_PERCENT", default="15"))
QUOTE_DISCOUNT_APPROVERS_GROUP = env.str("QUOTE_DISCOUNT_APPROVERS_GROUP", default="Quote approvers")

# --- Authentication --------------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24  # one day
INVITATION_MAX_AGE_DAYS = env.int("PORTAL_INVITATION_MAX_AGE_DAYS", default=7)

# django-axes: lock an account (per username and address) after repeated failures.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=1.0)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_USERNAME_FORM_FIELD = "username"
AXES_IPWARE_PROXY_COUNT = env.int("DJANGO_PROXY_COUNT", default=0) or None

# --- Security --------------------------------------------------------------------------------------------
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env.bool("DJANGO_SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("DJANGO_CSRF_COOKIE_SECURE", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0 if DEBUG else 60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- Email -----------------------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="B2B Portal <portal@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_TIMEOUT = 10

# --- Internationalisation --------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("PORTAL_TIME_ZONE", default="UTC")

# The wholesaler running the portal, as statements of account name it (address and contact: parts
# separated by ";", one line each).
PORTAL_COMPANY_NAME = env.str("PORTAL_COMPANY_NAME", default="B2B Portal")
PORTAL_COMPANY_ADDRESS = env.str("PORTAL_COMPANY_ADDRESS", default="")
PORTAL_COMPANY_CONTACT = env.str("PORTAL_COMPANY_CONTACT", default="")
USE_I18N = True
USE_TZ = True

# --- Static files ----------------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- API -------------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "apps.core.rest.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "B2B Portal API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "ENUM_NAME_OVERRIDES": {
        "QuoteStatusEnum": "apps.quotes.api.BUYER_STATUSES",
        "QuoteSideEnum": "apps.quotes.models.Side",
    },
}

# --- Logging ---------------------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
    "loggers": {
        "django_q": {"level": "WARNING"},
        "django-q": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
    },
}
