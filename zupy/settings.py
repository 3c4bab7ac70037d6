"""Settings for the Zupy coupon service, read from the environment.

With no environment at all it runs on an embedded SQLite file under ``var/``; production sets
``DATABASE_URL`` (PostgreSQL), ``SECRET_KEY``, ``ALLOWED_HOSTS`` and ``CACHE_URL`` (Redis).
Parsing is strict: a boolean that is not one of true/false/1/0/yes/no/on/off stops the process.
"""

from decimal import Decimal
from pathlib import Path

import environ
from django.conf import global_settings
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool) -> bool:
    raw = env.str(name, default=str(default)).strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use true/false, 1/0, yes/no, on/off)")


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY is required when DEBUG is off")
    SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
# Health checks and scrapes inside the container or host call 127.0.0.1 whatever the public name is.
ALLOWED_HOSTS += [host for host in ("127.0.0.1", "localhost") if host not in ALLOWED_HOSTS]
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

DATA_DIR = Path(env.str("ZUPY_DATA_DIR", default=str(BASE_DIR / "var")))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # the Swagger UI's assets, served from the image (no CDN)
    "axes",  # admin login throttling (see "Admin login throttling" below)
    "zupy",  # the project: the migration history of the tables it once held
    "core",  # the kit: errors, inputs, rendering, idempotency, the SQL helpers, health, observability
    "companies",
    "customers",
    "rewards",
    "coupons",
    "otp",
    "webhooks",
    "wallet",
    "integrations",
    "oauth2_provider",  # OpenDelivery's OAuth2 client_credentials (docs/opendelivery.md)
    "opendelivery",
    "demo",  # seed_demo, which builds with every app above
]

MIDDLEWARE = [
    # Outermost: request id, the per-request log line and metrics for every answer.
    "core.observability.RequestObservabilityMiddleware",
    # Next, so that every error page Django or a middleware produces becomes problem+json.
    "core.problems.ProblemJsonMiddleware",
    "core.inputs.RequestBoundsMiddleware",
    "core.inputs.BodySizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Only adds a header to answers, so it sits anywhere: here, so that the gate's answers carry it too.
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # API keys and rate limits before anything costly: a refused request never reaches sessions or DRF.
    # After the two above only so that refusals carry their headers as every other answer does.
    "companies.auth.ApiGateMiddleware",
    # Every answer: the Host check (ALLOWED_HOSTS, a 400) and Content-Length.
    "django.middleware.common.CommonMiddleware",
    # Last: ADMIN_LAYERS below, for ADMIN_LAYER_PATHS only (core/admin_layers.py).
    "core.admin_layers.AdminLayersMiddleware",
]
# The layers only the admin needs, run (in this order, hooks and all, as if they stood in MIDDLEWARE)
# only for the paths that start with one of ADMIN_LAYER_PATHS; the partner API's requests never build a
# session, read a CSRF cookie or look for a static file. The scope names the paths that need the layers
# rather than the API's prefixes, so that a surface added later cannot forget to opt out: it starts
# without sessions, and a view that reads request.session or request.user fails in its first test
# (docs/operations.md, "The middleware stack").
ADMIN_LAYERS = [
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Last, as django-axes asks: it answers a locked-out login.
    "axes.middleware.AxesMiddleware",
]
# The admin's, axes' and Django's CSRF checks look for these layers in MIDDLEWARE; core.admin_layers
# checks them here.
SILENCED_SYSTEM_CHECKS = ["admin.E408", "admin.E409", "admin.E410", "axes.W002", "security.W003"]

ROOT_URLCONF = "zupy.urls"
WSGI_APPLICATION = "zupy.wsgi.application"
# The API is documented with trailing slashes; a missing one is a clear 404, not a redirect that
# would drop a POST body.
APPEND_SLASH = False

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

# --- Database -------------------------------------------------------------------------------
DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'zupy.sqlite3'}")}
# What sits between the service and PostgreSQL: nothing, or a PgBouncer in session or transaction
# pooling (docs/deploy.md, "Connections").
DB_POOLER_MODE = env.str("DB_POOLER_MODE", default="none").strip().lower()
if DB_POOLER_MODE not in ("none", "session", "transaction"):
    raise ImproperlyConfigured(f"DB_POOLER_MODE must be none, session or transaction, not {DB_POOLER_MODE!r}")
_engine = DATABASES["default"]["ENGINE"]
if _engine == "django.db.backends.sqlite3":
    # BEGIN IMMEDIATE makes every transaction take SQLite's write lock up front, so writers
    # serialise (SQLite has no SELECT ... FOR UPDATE); WAL lets readers run beside the writer.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": env.int("SQLITE_TIMEOUT", default=30),
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}
elif _engine == "django.db.backends.postgresql":
    # Server-side prepared statements: with server-side binding the SQL text of a query no longer
    # carries its values, so psycopg can prepare it after DB_PREPARE_THRESHOLD uses on a connection
    # and PostgreSQL stops parsing and planning it on every request (docs/benchmark.md has the
    # measurement). A transaction-mode PgBouncer (1.18 keeps no prepared statements) hands each
    # transaction whichever server connection is free, where a statement prepared on another one
    # does not exist: there DB_PREPARE_THRESHOLD is off, and a number is refused (docs/deploy.md).
    _prepare = env.str("DB_PREPARE_THRESHOLD", default="off" if DB_POOLER_MODE == "transaction" else "5")
    _prepare = _prepare.strip().lower()
    if DB_POOLER_MODE == "transaction" and _prepare not in ("off", "none", ""):
        raise ImproperlyConfigured(
            f"DB_PREPARE_THRESHOLD={_prepare} cannot work behind a transaction-mode pooler "
            "(DB_POOLER_MODE=transaction): a statement prepared on one server connection is missing "
            "on the next. Set DB_PREPARE_THRESHOLD=off, or DB_POOLER_MODE=session."
        )
    DATABASES["default"]["OPTIONS"] = {
        **DATABASES["default"].get("OPTIONS", {}),  # the URL's query (?target_session_attrs=...)
        "server_side_binding": _prepare not in ("off", "none", ""),
        "prepare_threshold": None if _prepare in ("off", "none", "") else int(_prepare),
    }
    # Failover (docs/scaling.md): a DATABASE_URL naming every node (postgres://u:p@db1:5432,db2:5432/zupy)
    # makes libpq try them in turn and keep the first that takes writes, so the service follows the
    # Patroni leader without a restart; without read-write it would settle for a standby, and every
    # write would fail. A node that drops packets is given up on after DB_CONNECT_TIMEOUT seconds.
    if "," in DATABASES["default"].get("HOST", ""):
        _options = DATABASES["default"]["OPTIONS"]
        _options.setdefault("target_session_attrs", "read-write")
        _options.setdefault("connect_timeout", env.int("DB_CONNECT_TIMEOUT", default=3))
    if DB_POOLER_MODE == "transaction":
        # Django's .iterator() outside a transaction declares a WITH HOLD cursor that outlives the
        # transaction, so on the pooler's next server connection it would be missing too.
        DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
    if env_bool("DB_POOL", True):
        # psycopg's pool (Django >= 5.1); CONN_MAX_AGE must stay 0 with it.
        DATABASES["default"]["OPTIONS"]["pool"] = {
            "min_size": env.int("DB_POOL_MIN_SIZE", default=2),
            "max_size": env.int("DB_POOL_MAX_SIZE", default=10),
            "timeout": env.int("DB_POOL_TIMEOUT", default=10),
        }
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        # Checks each pooled connection before a request gets it (one a database restart broke is
        # replaced, not used once and failed), and fails at once, without waiting DB_POOL_TIMEOUT,
        # while the database is unreachable: core/postgresql/base.py.
        DATABASES["default"]["ENGINE"] = "core.postgresql"
    else:
        DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# After a failure to get a connection, how long requests fail at once before one waits on the pool again.
DB_OUTAGE_PROBE_INTERVAL = env.float("DB_OUTAGE_PROBE_INTERVAL", default=1.0)

# A streaming replica for the reads that tolerate a little lag (core/dbrouter.py): the same engine
# and options as the primary, never migrated. Without DATABASE_REPLICA_URL every read is the primary's.
DB_REPLICA_MAX_LAG = env.float("DB_REPLICA_MAX_LAG", default=2.0)
DB_REPLICA_READ_YOUR_WRITES_SECONDS = env.float("DB_REPLICA_READ_YOUR_WRITES_SECONDS", default=5.0)
DB_REPLICA_RETRY_INTERVAL = env.float("DB_REPLICA_RETRY_INTERVAL", default=5.0)
_replica_url = env.str("DATABASE_REPLICA_URL", default="")
if _replica_url:
    if not DATABASES["default"]["ENGINE"].endswith("postgresql"):
        raise ImproperlyConfigured("DATABASE_REPLICA_URL needs a PostgreSQL DATABASE_URL")
    if DB_REPLICA_READ_YOUR_WRITES_SECONDS < DB_REPLICA_MAX_LAG:
        # A key's write older than the window must be replayed, or the replica counts as lagging.
        raise ImproperlyConfigured("DB_REPLICA_READ_YOUR_WRITES_SECONDS must be at least DB_REPLICA_MAX_LAG")
    _replica = env.db_url_config(_replica_url)
    DATABASES["replica"] = {
        **{
            k: v
            for k, v in DATABASES["default"].items()
            if k not in ("NAME", "USER", "PASSWORD", "HOST", "PORT")
        },
        **{k: _replica[k] for k in ("NAME", "USER", "PASSWORD", "HOST", "PORT") if k in _replica},
        # A replica that does not answer costs at most this, once per DB_REPLICA_RETRY_INTERVAL.
        "OPTIONS": {
            # Not the primary's read-write target (a multi-host DATABASE_URL's): a replica is a standby.
            **{k: v for k, v in DATABASES["default"]["OPTIONS"].items() if k != "target_session_attrs"},
            "connect_timeout": 2,
            **_replica.get("OPTIONS", {}),
        },
        "TEST": {"MIRROR": "default"},
    }
    DATABASE_ROUTERS = ["core.dbrouter.ReplicaRouter"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ----------------------------------------------------------------------------------
# Without CACHE_URL, a table in the database: every worker and process shares it, so a rate-limit
# tier or an OTP request limit means the same number whatever WEB_CONCURRENCY is (a per-process
# cache would multiply it). ``migrate`` creates the table. See docs/money.md.
if env.str("CACHE_URL", default=""):
    CACHES = {"default": env.cache_url("CACHE_URL")}
    if CACHES["default"]["BACKEND"].endswith("RedisCache"):
        # A Redis that stops answering (rather than refusing) must not hold every request: the rate
        # limit and key lookups fail open after this long (seconds).
        _redis_timeout = env.float("CACHE_TIMEOUT", default=0.5)
        CACHES["default"].setdefault("OPTIONS", {}).update(
            socket_connect_timeout=_redis_timeout, socket_timeout=_redis_timeout
        )
else:
    CACHES = {
        "default": {
            "BACKEND": "core.cache.DatabaseCache",
            "LOCATION": "zupy_cache",
            # Culling drops expired rows first; room for many keys' one-minute counters.
            "OPTIONS": {"MAX_ENTRIES": 50_000},
        }
    }

# --- Auth, i18n, static ---------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# The paths ADMIN_LAYERS run for: the admin (its login is where axes locks out), and the static files
# whitenoise serves (the admin's, and the Swagger UI page's assets).
ADMIN_LAYER_PATHS = ["/admin/", f"/{STATIC_URL}"]
STATIC_ROOT = BASE_DIR / "staticfiles"
WHITENOISE_USE_FINDERS = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- HTTPS: opt-in, for when a TLS terminator is in front (docs/deploy.md) --------------------
# Off, the service answers plain HTTP (compose on http://localhost:8000 out of the box). HTTPS_ONLY=true
# turns on all of: trust X-Forwarded-Proto from the proxy, redirect http to https, HSTS for a year
# (subdomains, preload) and secure cookies; each can still be set on its own.
HTTPS_ONLY = env_bool("HTTPS_ONLY", False)
if env_bool("SECURE_PROXY_SSL", HTTPS_ONLY):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", HTTPS_ONLY)
# Probes and scrapes come over plain HTTP from inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if HTTPS_ONLY else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", HTTPS_ONLY)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", HTTPS_ONLY)
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", HTTPS_ONLY)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True

# --- Admin login throttling (django-axes) ----------------------------------------------------
# axes' check, then an atomic count of attempts in flight, then the password (core/login_lockout.py):
# the lockout holds when many attempts arrive at once.
AUTHENTICATION_BACKENDS = ["core.login_lockout.LockoutBackend"]
AXES_HANDLER = "core.login_lockout.LockoutHandler"
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=1.0)  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]  # one user from one address
# How many proxies in front of gunicorn append to X-Forwarded-For (compose: nginx, so 1). The client is
# the address the outermost of them saw; whatever a client writes into the header itself is left of it.
# 0 (scripts/serve, the bare image) uses the socket's address: a client cannot choose its own IP.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
if TRUSTED_PROXY_COUNT:
    AXES_IPWARE_META_PRECEDENCE_ORDER = ["HTTP_X_FORWARDED_FOR"]
    # ipware counts the proxies listed in the header; the last one is REMOTE_ADDR, not listed.
    AXES_IPWARE_PROXY_COUNT = TRUSTED_PROXY_COUNT - 1
    IPWARE_STRICT = False  # take the entry that count points at, ignore more on the left
else:
    AXES_IPWARE_META_PRECEDENCE_ORDER = ["REMOTE_ADDR"]

# --- Limits of a request before the application reads it --------------------------------------
# gunicorn.conf.py lets larger requests through to the application, which refuses these with
# problem+json: request line (method, path, query, version) -> 414; one header line or the number of
# headers -> 431.
ZUPY_MAX_REQUEST_LINE = env.int("ZUPY_MAX_REQUEST_LINE", default=4094)
ZUPY_MAX_HEADER_BYTES = env.int("ZUPY_MAX_HEADER_BYTES", default=8190)
ZUPY_MAX_HEADERS = env.int("ZUPY_MAX_HEADERS", default=100)

# --- Long-running services: heartbeat files (python manage.py heartbeat_check NAME) -------------
HEARTBEAT_DIR = Path(env.str("HEARTBEAT_DIR", default="/tmp/zupy-heartbeat"))  # noqa: S108

# --- REST framework -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["companies.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["companies.auth.HasApiKey", "companies.auth.KeyCanWrite"],
    "DEFAULT_THROTTLE_CLASSES": ["companies.auth.TierRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["core.rendering.EnvelopeJSONRenderer"],
    # Upstream declares both form types for its writes; core.inputs.Input checks a form's keys.
    "DEFAULT_PARSER_CLASSES": [
        "core.inputs.JSONParser",
        "core.inputs.FormParser",
        "core.inputs.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "core.problems.problem_exception_handler",
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "core.rendering.JsonOnlyNegotiation",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "URL_FORMAT_OVERRIDE": None,  # ?format= is not ours to interpret: JSON only
    "UNAUTHENTICATED_USER": None,
    "UNAUTHENTICATED_TOKEN": None,
    "DATETIME_FORMAT": "iso-8601",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Zupy v2 partner API (coupons)",
    "VERSION": "2.0.0",
    "DESCRIPTION": "Loyalty coupons for partners: catalog, redeem, list, validate. Every answer is "
    "{data, meta}; every error is application/problem+json.",
    # The document and the docs page are public; every API operation still needs X-API-Key.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.schema.envelope_and_problems",
        "core.schema.empty_query_values",
    ],
    "COMPONENT_SPLIT_REQUEST": True,
    # Views without a docstring of their own get no description, not the kit's base-view docstring.
    "GET_LIB_DOC_EXCLUDES": "core.schema.doc_excludes",
    # The Swagger UI from drf-spectacular-sidecar's pinned copy in the image, not a CDN's @latest.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Path ids are documented as the upstream's plain strings (core.ids.PathIdConverter narrows them).
    "PATH_CONVERTER_OVERRIDES": {"id": str},
}

# --- Domain settings ------------------------------------------------------------------------
# Z$ top-up: the points gap is paid at 1 point = 1 Z$ plus this markup...
ZUPY_Z_MARKUP = Decimal(env.str("ZUPY_Z_MARKUP", default="0.20"))
# ...and Z$ may cover at most this share of the reward's cost.
ZUPY_Z_MAX_COVER = Decimal(env.str("ZUPY_Z_MAX_COVER", default="0.20"))

# Request bodies: the API's are a few hundred bytes; anything over this is refused with 413.
ZUPY_MAX_BODY_BYTES = env.int("ZUPY_MAX_BODY_BYTES", default=64 * 1024)
# ...but the admin's, which upload images (nginx in compose still stops a body over 1 MB).
ZUPY_MAX_ADMIN_BODY_BYTES = env.int("ZUPY_MAX_ADMIN_BODY_BYTES", default=4 * 1024 * 1024)
# ...and the inbound partner webhook's, whose batches of orders are larger (nginx's 1 MB is the ceiling).
ZUPY_MAX_INBOUND_BODY_BYTES = env.int("ZUPY_MAX_INBOUND_BODY_BYTES", default=1024 * 1024)
# Orders one inbound body may carry (each is a row and a credit); more: 413 too_many_orders.
INTEGRATION_MAX_ORDERS_PER_BODY = env.int("INTEGRATION_MAX_ORDERS_PER_BODY", default=1000)
# Seconds before the 2nd, 3rd... attempt at an inbound body whose processing failed as a whole (the
# database went away, the worker died in it); after the last, the body is ``exhausted``.
INTEGRATION_RETRY_DELAYS = [
    float(d) for d in env.list("INTEGRATION_RETRY_DELAYS", default=["30", "120", "600", "3600"])
]

# Seconds an API-key lookup stays cached (no query for authentication within it).
API_KEY_CACHE_TTL = env.int("API_KEY_CACHE_TTL", default=60)
API_KEY_LOCAL_TTL = env.float("API_KEY_LOCAL_TTL", default=5.0)

# Requests per minute per API key, by the company's tier.
ZUPY_RATE_LIMITS = {
    "free": env.int("RATE_LIMIT_FREE", default=60),
    "standard": env.int("RATE_LIMIT_STANDARD", default=300),
    "enterprise": env.int("RATE_LIMIT_ENTERPRISE", default=3000),
}
# Requests per minute per API key to the inbound partner webhook, by tier: a budget of its own, higher
# than the key's, as upstream documents (its orders never take the tills' budget).
ZUPY_INBOUND_RATE_LIMITS = {
    "free": env.int("RATE_LIMIT_INBOUND_FREE", default=150),
    "standard": env.int("RATE_LIMIT_INBOUND_STANDARD", default=600),
    "enterprise": env.int("RATE_LIMIT_INBOUND_ENTERPRISE", default=6000),
}
# Requests per minute per client address without a valid key: the schema, the docs page, 401s.
ZUPY_ANONYMOUS_RATE_LIMIT = env.int("RATE_LIMIT_ANONYMOUS", default=60)

# --- Metrics ---------------------------------------------------------------------------------
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1", "::1"])

# --- OTP ------------------------------------------------------------------------------------
# Which sender delivers each channel: ConsoleSender (logs "OTP for <masked>: <code>"), EmailSender
# (Django's e-mail), HttpGatewaySender (WhatsApp/SMS gateway at OTP_GATEWAY_URL). SMS is offered only
# when OTP_SMS_SENDER names a sender (empty: `channel: sms` is refused).
OTP_SENDERS = {
    "whatsapp": env.str("OTP_PHONE_SENDER", default="otp.senders.ConsoleSender"),
    "email": env.str("OTP_EMAIL_SENDER", default="otp.senders.EmailSender"),
}
if OTP_SMS_SENDER := env.str("OTP_SMS_SENDER", default=""):
    OTP_SENDERS["sms"] = OTP_SMS_SENDER
OTP_GATEWAY_URL = env.str("OTP_GATEWAY_URL", default="")
OTP_GATEWAY_TOKEN = env.str("OTP_GATEWAY_TOKEN", default="")
OTP_GATEWAY_TIMEOUT = env.float("OTP_GATEWAY_TIMEOUT", default=5.0)
OTP_RATE_WINDOW = env.int("OTP_RATE_WINDOW", default=600)
OTP_REQUESTS_PER_IDENTIFIER = env.int("OTP_REQUESTS_PER_IDENTIFIER", default=5)
# Shared by all of one customer's identifiers (phone, e-mail, CPF).
OTP_REQUESTS_PER_CUSTOMER = env.int("OTP_REQUESTS_PER_CUSTOMER", default=OTP_REQUESTS_PER_IDENTIFIER)
OTP_REQUESTS_PER_COMPANY = env.int("OTP_REQUESTS_PER_COMPANY", default=300)
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
# A sender that prints codes (ConsoleSender, or e-mail through the console backend) is refused with
# DEBUG off, at start-up and by `check --deploy` (otp.E001), unless this development switch allows it.
OTP_ALLOW_CONSOLE_SENDER = env_bool("OTP_ALLOW_CONSOLE_SENDER", DEBUG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="no-reply@zupy.local")
if env.str("EMAIL_URL", default=""):  # e.g. smtp+tls://user:password@smtp.example.com:587
    globals().update(env.email_url("EMAIL_URL"))

# --- Webhooks -------------------------------------------------------------------------------
# Seconds one attempt (or test ping) may take in all: connect, TLS, send, status line and headers.
WEBHOOK_TIMEOUT = env.float("WEBHOOK_TIMEOUT", default=10.0)
# Seconds before the 2nd, 3rd and 4th attempt; after the last, the delivery is marked failed.
WEBHOOK_RETRY_DELAYS = [float(d) for d in env.list("WEBHOOK_RETRY_DELAYS", default=["1", "4", "16"])]
# http:// URLs (development) and URLs that resolve to private or loopback addresses (SSRF guard).
WEBHOOK_ALLOW_HTTP = env_bool("WEBHOOK_ALLOW_HTTP", DEBUG)
WEBHOOK_ALLOW_PRIVATE = env_bool("WEBHOOK_ALLOW_PRIVATE", False)
# POST integrations/webhooks/test/: pings a company may send a minute (one in flight at a time), and how
# many request threads of one API process may be sending a ping at once.
WEBHOOK_PING_PER_MINUTE = env.int("WEBHOOK_PING_PER_MINUTE", default=6)
WEBHOOK_PING_CONCURRENCY = env.int("WEBHOOK_PING_CONCURRENCY", default=1)
# coupon.expiring goes out this many days before valid_until.
COUPON_EXPIRING_DAYS = env.int("COUPON_EXPIRING_DAYS", default=3)


# --- Wallet passes (docs/wallet.md) ------------------------------------------------------------
# The public https base that pass URLs, Apple's webServiceURL and Google's links start with
# (e.g. https://api.example.com). Empty: the request's own scheme and host.
WALLET_PUBLIC_URL = env.str("WALLET_PUBLIC_URL", default="").rstrip("/")
# Apple Wallet: the Pass Type ID, the Team ID, and files (never the repository) holding the Pass Type
# ID certificate, its private key (and the key's password, if any) and Apple's WWDR intermediate, PEM.
# Empty: Apple is not configured, and its operations answer 503 wallet-temporarily-unavailable.
WALLET_APPLE_PASS_TYPE_ID = env.str("WALLET_APPLE_PASS_TYPE_ID", default="")
WALLET_APPLE_TEAM_ID = env.str("WALLET_APPLE_TEAM_ID", default="")
WALLET_APPLE_CERT_FILE = env.str("WALLET_APPLE_CERT_FILE", default="")
WALLET_APPLE_KEY_FILE = env.str("WALLET_APPLE_KEY_FILE", default="")
WALLET_APPLE_KEY_PASSWORD = env.str("WALLET_APPLE_KEY_PASSWORD", default="")
WALLET_APPLE_WWDR_FILE = env.str("WALLET_APPLE_WWDR_FILE", default="")
# Google Wallet: the issuer id and the service account's JSON key file; the API and token endpoints
# (tests point them at loopback receivers).
WALLET_GOOGLE_ISSUER_ID = env.str("WALLET_GOOGLE_ISSUER_ID", default="")
WALLET_GOOGLE_SERVICE_ACCOUNT_FILE = env.str("WALLET_GOOGLE_SERVICE_ACCOUNT_FILE", default="")
WALLET_GOOGLE_API_URL = env.str(
    "WALLET_GOOGLE_API_URL", default="https://walletobjects.googleapis.com/walletobjects/v1"
).rstrip("/")
WALLET_GOOGLE_TOKEN_URL = env.str("WALLET_GOOGLE_TOKEN_URL", default="https://oauth2.googleapis.com/token")
# The origins (scheme://host) of the partner sites that show "Save to Google Wallet" buttons, named in
# every save link (Google refuses a save from a page of another origin); empty: links opened directly.
WALLET_GOOGLE_ORIGINS = env.list("WALLET_GOOGLE_ORIGINS", default=[])
# The largest image the admin takes for a design's logo, icon or strip (bytes).
WALLET_IMAGE_MAX_BYTES = env.int("WALLET_IMAGE_MAX_BYTES", default=768 * 1024)
# The PassKit web service: log lines a device may send in one request, and characters kept of each.
WALLET_PASSKIT_MAX_LOGS = env.int("WALLET_PASSKIT_MAX_LOGS", default=50)
WALLET_PASSKIT_MAX_LOG_CHARS = env.int("WALLET_PASSKIT_MAX_LOG_CHARS", default=500)
# Requests a minute one client address may send to the public wallet paths (/passkit/, /wallet/):
# Wallet's calls and pass downloads carry no API key, so the address is the only thing to count.
WALLET_PUBLIC_RATE_LIMIT = env.int("WALLET_PUBLIC_RATE_LIMIT", default=120)
# Devices registered at once for one pass (a customer's phones and watches); the next one is refused.
WALLET_MAX_DEVICES_PER_PASS = env.int("WALLET_MAX_DEVICES_PER_PASS", default=10)
# Notifications a customer may receive an hour (more are accepted with 202 and logged, not delivered).
WALLET_NOTIFICATIONS_PER_HOUR = env.int("WALLET_NOTIFICATIONS_PER_HOUR", default=10)
# The wallet worker: seconds one APNs or Google call may take, and the delays between retries.
WALLET_TIMEOUT = env.float("WALLET_TIMEOUT", default=10.0)
WALLET_RETRY_DELAYS = [float(d) for d in env.list("WALLET_RETRY_DELAYS", default=["2", "10", "60"])]
# APNs, where the wallet worker sends Apple's "this pass changed" pushes (HTTP/2; tests point it at a
# loopback receiver). Auth "certificate": the Pass Type ID certificate and key above, as the TLS client
# certificate. Auth "token": a provider token (JWT, ES256) signed with the APNs auth key in
# WALLET_APNS_KEY_FILE (a .p8 file, never the repository), its key id, and WALLET_APPLE_TEAM_ID.
# WALLET_APNS_CA_FILE: the CAs that APNs' server certificate is checked against (empty: the system's).
WALLET_APNS_URL = env.str("WALLET_APNS_URL", default="https://api.push.apple.com").rstrip("/")
WALLET_APNS_AUTH = env.str("WALLET_APNS_AUTH", default="certificate")
if WALLET_APNS_AUTH not in {"certificate", "token"}:
    raise ImproperlyConfigured(f"WALLET_APNS_AUTH must be certificate or token, not {WALLET_APNS_AUTH!r}")
WALLET_APNS_KEY_FILE = env.str("WALLET_APNS_KEY_FILE", default="")
WALLET_APNS_KEY_ID = env.str("WALLET_APNS_KEY_ID", default="")
WALLET_APNS_CA_FILE = env.str("WALLET_APNS_CA_FILE", default="")


# --- Housekeeping -----------------------------------------------------------------------------
def env_schedule(name: str, default: str) -> dict[str, float]:
    """``command=seconds,command=seconds``: each management command and the seconds between its runs."""
    jobs: dict[str, float] = {}
    for item in env.str(name, default=default).split(","):
        command, _, seconds = item.strip().partition("=")
        try:
            every = float(seconds)
        except ValueError:
            every = 0.0
        if not command or not every > 0 or every == float("inf") or command in jobs:
            raise ImproperlyConfigured(
                f"{name}: {item.strip()!r} is not command=seconds (a positive number, each command once)"
            )
        jobs[command] = every
    return jobs


# What the scheduler service runs (manage.py scheduler): hourly, the Idempotency-Key answers past their
# 24 hours; daily, the RFM segments that recency moves.
ZUPY_SCHEDULE = env_schedule("ZUPY_SCHEDULE", "purge_idempotency_keys=3600,refresh_segments=86400")

LOG_FORMAT = env.str("LOG_FORMAT", default="json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "ts", "levelname": "level", "name": "logger"},
        },
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # Our request log replaces Django's per-error lines; 5xx are still logged with their traceback.
    # The wallet worker logs one line per attempt itself; httpx's own line per request (with the URL,
    # a device token in it) would only repeat it.
    "loggers": {"django.request": {"level": "ERROR"}, "httpx": {"level": "WARNING"}},
}


# --- OpenDelivery (docs/opendelivery.md) ---------------------------------------------------------------
# django-oauth-toolkit issues the client_credentials tokens: secrets kept as digests, no refresh tokens.
OAUTH2_PROVIDER = {
    "SCOPES": {"od.crm": "Customer and loyalty operations", "od.all": "Every operation this server serves"},
    "DEFAULT_SCOPES": ["od.crm"],
    "ACCESS_TOKEN_EXPIRE_SECONDS": env.int("OPENDELIVERY_TOKEN_SECONDS", default=3600),
    # The client's own row decides: a disabled client does not authenticate; a token gets the
    # client's scopes only.
    "OAUTH2_VALIDATOR_CLASS": "opendelivery.auth.OdOAuth2Validator",
    # RFC 9700 (the OAuth 2.0 security BCP) throughout: tokens stored as digests, never taken from a
    # query string; the flows we do not serve (implicit, password, redirects) held to their strict form.
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_SCHEME": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"],
    "ALLOW_URI_WILDCARDS": False,
    "PKCE_REQUIRED": True,
    # Secrets are random, not chosen: digested without a password's stretching (opendelivery/hashers.py).
    "CLIENT_SECRET_HASHER": "pbkdf2_sha256_od_secret",
    # A client_id is never a URL to fetch metadata from.
    "CIMD_ENABLED": False,
}
# Django's own hashers first (people's passwords); the client secrets' one after them.
PASSWORD_HASHERS = [*global_settings.PASSWORD_HASHERS, "opendelivery.hashers.ClientSecretHasher"]
# This server's participant identity (the manifest's appId, X-App-Id on every event).
OPENDELIVERY_APP_ID = env.str("OPENDELIVERY_APP_ID", default="00000000-0000-4000-8000-000000000000")
# Its models as Django's swappable-model machinery (and its migrations) name them.
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "oauth2_provider.AccessToken"
OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL = "oauth2_provider.RefreshToken"
OAUTH2_PROVIDER_ID_TOKEN_MODEL = "oauth2_provider.IDToken"
OAUTH2_PROVIDER_GRANT_MODEL = "oauth2_provider.Grant"
