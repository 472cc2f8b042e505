"""Configuration classes, read from the environment when they are created."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import tempfile
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEV_SECRET_FILE = "secret_key"


class InsecureConfigError(RuntimeError):
    """Raised when production settings are unsafe."""


def _env_int(name: str, default: int, minimum: int | None = None) -> int:
    value = os.environ.get(name, "")
    if not value.strip():
        return default
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {value!r}") from None
    if minimum is not None and number < minimum:
        raise ValueError(f"{name} must be at least {minimum}, not {number}")
    return number


def _env_percent_bp(name: str, default_bp: int) -> int:
    """A percentage from 0 to 100 ("20", "17.5") in basis points."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default_bp
    try:
        percent = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{name} must be a percentage such as 20, not {value!r}") from None
    if not percent.is_finite() or not 0 <= percent <= 100 or percent * 100 % 1:
        raise ValueError(f"{name} must be from 0 to 100 in steps of 0.01, not {value!r}")
    return int(percent * 100)


def _env_json_object(name: str) -> dict[str, Any]:
    value = os.environ.get(name) or "{}"
    try:
        data = json.loads(value)
    except ValueError as exc:
        raise ValueError(f"{name} is not valid JSON ({exc}): {value!r}") from None
    if not isinstance(data, dict):
        raise ValueError(f'{name} must be a JSON object such as {{"home": {{"size": 6}}}}')
    return data


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    return default if not value else value in ("1", "true", "yes", "on")


def normalise_database_url(url: str) -> str:
    """Make plain postgres URLs use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def default_sqlite_url(instance_path: Path) -> str:
    """Return the URL of the embedded SQLite database in the instance folder."""
    return f"sqlite:///{instance_path / 'shop.sqlite3'}"


def dev_secret_key(instance_path: Path) -> str:
    """Return the dev secret key, generating it into the instance folder once."""
    instance_path.mkdir(parents=True, exist_ok=True)
    path = instance_path / DEV_SECRET_FILE
    if not path.exists():
        _create_once(path, secrets.token_hex(32))
    return path.read_text().strip()


def _create_once(path: Path, text: str) -> None:
    """Create `path` holding `text` unless it exists, readable only by its owner.

    Several server processes starting at once on a fresh instance folder all get here: the
    file is written under a temporary name and then linked into place, which fails when it
    exists, so the first process's key wins and nobody ever reads a half-written file.
    """
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(fd, "w") as file:
            file.write(text)
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        os.unlink(temporary)


class Config:
    """Settings shared by every environment; most can be overridden from the environment."""

    ENV_NAME = "development"
    TESTING = False
    SHOP_NAME = "Hearth & Parcel"
    CURRENCY = "GBP"
    SEARCH_MAX_QUERY_CHARS = 200
    SEARCH_MAX_TERMS = 12
    VISITOR_COOKIE = "vid"
    TRACKING_COOKIE = "tracking"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None
    SQLITE_BUSY_TIMEOUT_MS = 5000
    RATELIMIT_HEADERS_ENABLED = True  # Retry-After (and X-RateLimit-*) on limited responses
    # No request body may be larger (a 413 page or JSON error): room for the 2 MB catalogue
    # CSV upload and its form fields, far more than any other form or JSON call needs.
    MAX_CONTENT_LENGTH = 4 * 1024 * 1024

    def __init__(self) -> None:
        env = os.environ
        self.INSTANCE_PATH = Path(env.get("SHOP_INSTANCE_PATH") or PROJECT_ROOT / "instance")
        self.SECRET_KEY: str | None = env.get("SECRET_KEY") or None
        self.DATABASE_URL = normalise_database_url(env.get("DATABASE_URL", ""))
        self.SHOP_DATA_DIR = Path(
            env.get("SHOP_DATA_DIR") or PROJECT_ROOT.parent / "shared" / "data"
        )
        self.PAGE_SIZE = _env_int("SHOP_PAGE_SIZE", 24, minimum=1)
        self.MAX_CART_LINE_QTY = _env_int("SHOP_MAX_CART_LINE_QTY", 999, minimum=1)
        self.TRACKING_ENABLED = env.get("SHOP_TRACKING", "on") != "off"
        # Events are written by a background thread in batches; tests write them at once.
        self.TRACKING_BACKGROUND = env.get("SHOP_TRACKING_WRITER", "background") != "sync"
        self.LOG_LEVEL = env.get("LOG_LEVEL", "INFO")
        self.RECOMMENDATIONS_ENABLED = env.get("SHOP_RECOMMENDATIONS", "on") != "off"
        # Per-placement overrides as JSON, e.g. {"home": {"size": 6, "allow_repurchase": true}}
        self.RECOMMENDER_PLACEMENTS = _env_json_object("SHOP_RECOMMENDER_PLACEMENTS")
        # Links in e-mails are absolute, and e-mails are rendered outside any request. By
        # default they point at the dev server (`make run` serves on SHOP_HOST:SHOP_PORT), so
        # that a command run with the server's environment links to that server too.
        dev_server = f"http://{env.get('SHOP_HOST') or '127.0.0.1'}:{env.get('SHOP_PORT') or 5000}"
        self.SHOP_BASE_URL = (env.get("SHOP_BASE_URL") or dev_server).rstrip("/")

        # Checkout: prices in pence. Standard shipping is free from the threshold up. The
        # EUROPE settings price delivery to every country the shop serves outside the UK.
        self.SHIPPING_STANDARD_PENCE = _env_int("SHOP_SHIPPING_STANDARD_PENCE", 395, minimum=0)
        self.SHIPPING_EXPRESS_PENCE = _env_int("SHOP_SHIPPING_EXPRESS_PENCE", 795, minimum=0)
        self.FREE_SHIPPING_THRESHOLD_PENCE = _env_int(
            "SHOP_FREE_SHIPPING_THRESHOLD_PENCE", 5000, minimum=0
        )
        self.SHIPPING_EUROPE_STANDARD_PENCE = _env_int(
            "SHOP_SHIPPING_EUROPE_STANDARD_PENCE", 995, minimum=0
        )
        self.SHIPPING_EUROPE_EXPRESS_PENCE = _env_int(
            "SHOP_SHIPPING_EUROPE_EXPRESS_PENCE", 1995, minimum=0
        )
        self.FREE_SHIPPING_EUROPE_THRESHOLD_PENCE = _env_int(
            "SHOP_FREE_SHIPPING_EUROPE_THRESHOLD_PENCE", 15000, minimum=0
        )
        self.RESERVATION_MINUTES = _env_int("SHOP_RESERVATION_MINUTES", 30, minimum=1)
        # Prices include VAT at this rate (the UK's standard rate); each order keeps the
        # rate it was sold at. With a VAT number its paid orders get VAT invoices, else
        # receipts that show the VAT all the same.
        self.VAT_RATE_BP = _env_percent_bp("SHOP_VAT_RATE_PERCENT", 2000)
        self.VAT_NUMBER = env.get("SHOP_VAT_NUMBER", "").strip()
        self.LEGAL_ADDRESS = env.get("SHOP_LEGAL_ADDRESS", "").strip()
        # Returns: how many days after delivery (or dispatch, when delivery was never
        # recorded) a shopper may ask to send items back, and where the parcels go (commas
        # between the lines; unset, SHOP_LEGAL_ADDRESS). With no address, returns are
        # arranged by e-mail (the contact page) rather than on the order page.
        self.RETURN_DAYS = _env_int("SHOP_RETURN_DAYS", 30, minimum=14)
        self.RETURNS_ADDRESS = env.get("SHOP_RETURNS_ADDRESS", "").strip() or self.LEGAL_ADDRESS
        # Where shoppers write to (the contact page); unset, MAIL_FROM's address.
        self.SUPPORT_EMAIL = env.get("SHOP_SUPPORT_EMAIL", "").strip()

        # Stripe. With no secret key, `make run` starts localstripe and sets these for it.
        self.STRIPE_SECRET_KEY = env.get("STRIPE_SECRET_KEY", "")
        self.STRIPE_PUBLISHABLE_KEY = env.get("STRIPE_PUBLISHABLE_KEY", "")
        self.STRIPE_WEBHOOK_SECRET = env.get("STRIPE_WEBHOOK_SECRET", "")
        self.STRIPE_API_BASE = env.get("STRIPE_API_BASE", "")  # empty: Stripe itself
        self.STRIPE_JS_URL = env.get("STRIPE_JS_URL", "https://js.stripe.com/v3/")

        # E-mail: the outbox is delivered over SMTP by `flask mail send`.
        self.MAIL_FROM = env.get("MAIL_FROM", "Hearth & Parcel <orders@hearth-parcel.example>")
        self.SMTP_HOST = env.get("SMTP_HOST", "127.0.0.1")
        self.SMTP_PORT = _env_int("SMTP_PORT", 8025, minimum=1)
        self.SMTP_STARTTLS = _env_bool("SMTP_STARTTLS", False)
        self.SMTP_SSL = _env_bool("SMTP_SSL", False)
        self.SMTP_USERNAME = env.get("SMTP_USERNAME", "")
        self.SMTP_PASSWORD = env.get("SMTP_PASSWORD", "")
        self.SMTP_TIMEOUT_S = _env_int("SMTP_TIMEOUT_S", 10, minimum=1)
        # 10 attempts are about 3 h of retries.
        self.MAIL_MAX_ATTEMPTS = _env_int("MAIL_MAX_ATTEMPTS", 10, minimum=1)
        self.MAIL_BACKOFF_BASE_S = _env_int("MAIL_BACKOFF_BASE_S", 30, minimum=1)
        # A row a sender claimed this long ago, and never finished, belongs to a dead sender.
        self.MAIL_CLAIM_TIMEOUT_S = _env_int("MAIL_CLAIM_TIMEOUT_S", 600, minimum=1)

        # Brute-force protection (shop/rate_limits.py): POSTs per client address. memory://
        # counts in each process; with several processes or hosts point it at redis://.
        self.RATELIMIT_ENABLED = _env_bool("RATELIMIT_ENABLED", True)
        self.RATELIMIT_STORAGE_URI = env.get("RATELIMIT_STORAGE_URI") or "memory://"
        self.SIGN_IN_RATE_LIMIT = env.get("SHOP_SIGN_IN_RATE_LIMIT") or "10 per minute;50 per hour"
        self.REGISTER_RATE_LIMIT = env.get("SHOP_REGISTER_RATE_LIMIT") or "5 per minute;20 per hour"
        self.PASSWORD_RESET_RATE_LIMIT = (
            env.get("SHOP_PASSWORD_RESET_RATE_LIMIT") or "5 per minute;20 per hour"
        )
        self.PAY_RATE_LIMIT = env.get("SHOP_PAY_RATE_LIMIT") or "10 per minute;60 per hour"
        self.STOCK_ALERT_RATE_LIMIT = (
            env.get("SHOP_STOCK_ALERT_RATE_LIMIT") or "5 per minute;20 per hour"
        )
        # Discount codes tried in the cart: enough for typos, too few to guess codes.
        self.PROMO_CODE_RATE_LIMIT = (
            env.get("SHOP_PROMO_CODE_RATE_LIMIT") or "10 per minute;30 per hour"
        )
        # Shared by the forms that check the signed-in account's password.
        self.PASSWORD_CHECK_RATE_LIMIT = (
            env.get("SHOP_PASSWORD_CHECK_RATE_LIMIT") or "5 per minute;20 per hour"
        )
        # Storage limitation (shop/retention.py, `flask privacy prune`): days each kind of
        # personal data nobody asked us to delete is kept. Visitors' events and impressions
        # must outlive the console's online metrics, which look back a year (366 days is
        # shop.retention.METRICS_DAYS, which checks it again).
        self.RETAIN_VISITOR_CARTS_DAYS = _env_int("SHOP_RETAIN_VISITOR_CARTS_DAYS", 90, minimum=1)
        self.RETAIN_VISITOR_SEARCHES_DAYS = _env_int(
            "SHOP_RETAIN_VISITOR_SEARCHES_DAYS", 90, minimum=1
        )
        self.RETAIN_VISITOR_EVENTS_DAYS = _env_int(
            "SHOP_RETAIN_VISITOR_EVENTS_DAYS", 400, minimum=366
        )
        self.RETAIN_VISITOR_IMPRESSIONS_DAYS = _env_int(
            "SHOP_RETAIN_VISITOR_IMPRESSIONS_DAYS", 400, minimum=366
        )
        self.RETAIN_EMAIL_TEXT_DAYS = _env_int("SHOP_RETAIN_EMAIL_TEXT_DAYS", 90, minimum=1)
        self.RETAIN_SPENT_TOKENS_DAYS = _env_int("SHOP_RETAIN_SPENT_TOKENS_DAYS", 30, minimum=1)
        self.RETAIN_CANCELLED_GUEST_ORDERS_DAYS = _env_int(
            "SHOP_RETAIN_CANCELLED_GUEST_ORDERS_DAYS", 180, minimum=1
        )
        self.RETAIN_DOMAIN_EVENTS_DAYS = _env_int("SHOP_RETAIN_DOMAIN_EVENTS_DAYS", 30, minimum=1)
        self.RETAIN_STOCK_ALERTS_DAYS = _env_int("SHOP_RETAIN_STOCK_ALERTS_DAYS", 365, minimum=1)
        self.RETAIN_GUEST_STOCK_ALERTS_DAYS = _env_int(
            "SHOP_RETAIN_GUEST_STOCK_ALERTS_DAYS", 365, minimum=1
        )
        self.RETAIN_UNCONFIRMED_STOCK_ALERTS_DAYS = _env_int(
            "SHOP_RETAIN_UNCONFIRMED_STOCK_ALERTS_DAYS", 7, minimum=1
        )
        # Reverse proxies in front of the app whose X-Forwarded-For/-Proto are trusted (0:
        # none). Without this, behind a proxy every visitor shares the proxy's address.
        self.TRUSTED_PROXIES = _env_int("SHOP_TRUSTED_PROXIES", 0, minimum=0)

    def database_url(self) -> str:
        """Return the configured database URL, or the embedded SQLite file in instance/."""
        return self.DATABASE_URL or default_sqlite_url(self.INSTANCE_PATH)

    def as_dict(self) -> dict[str, object]:
        """Return the upper-case settings as a dict for Flask's config."""
        names = {n for n in dir(self) if n.isupper()}
        return {name: getattr(self, name) for name in names}


# The demo shop's returns address, so that `make run` and the tests show the returns flow.
DEMO_RETURNS_ADDRESS = "Hearth & Parcel Returns, Unit 1, Example Trading Estate, Leeds, LS1 1AA"


class DevelopmentConfig(Config):
    """Local development: a secret key generated once into instance/."""

    def __init__(self) -> None:
        super().__init__()
        self.RETURNS_ADDRESS = self.RETURNS_ADDRESS or DEMO_RETURNS_ADDRESS


class TestConfig(Config):
    """Tests: a fixed secret; CSRF stays on, so tests post real tokens."""

    ENV_NAME = "testing"
    TESTING = True
    __test__ = False  # not a pytest test class

    def __init__(self) -> None:
        super().__init__()
        self.SECRET_KEY = "test-secret-key-not-for-production-use"
        self.TRACKING_BACKGROUND = False
        self.RECOMMENDER_MODEL_CHECK_S = 0.0  # see a newly activated model at once
        self.RATELIMIT_ENABLED = False  # the suite signs in many times from one address
        self.RETURNS_ADDRESS = self.RETURNS_ADDRESS or DEMO_RETURNS_ADDRESS


class ProductionConfig(Config):
    """Production: refuses to start with a missing or weak secret."""

    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestConfig,
    "production": ProductionConfig,
}


def load_config(name: str | None = None) -> Config:
    """Build and check the config for the named environment (SHOP_ENV by default)."""
    name = name or os.environ.get("SHOP_ENV") or "development"
    if name not in CONFIGS:
        raise ValueError(f"unknown SHOP_ENV {name!r}; use one of {', '.join(CONFIGS)}")
    config = CONFIGS[name]()
    if isinstance(config, ProductionConfig):
        if not config.SECRET_KEY or len(config.SECRET_KEY) < 32:
            raise InsecureConfigError(
                "SECRET_KEY must be a random value of at least 32 characters in production"
            )
        if not config.DATABASE_URL:
            raise InsecureConfigError("DATABASE_URL must be set in production")
        if not config.SHOP_BASE_URL.startswith("https://"):
            raise InsecureConfigError(
                "SHOP_BASE_URL must be the shop's https:// address in production: e-mails link "
                "to it, and one-click unsubscribe (RFC 8058) needs https"
            )
    elif not config.SECRET_KEY:
        config.SECRET_KEY = dev_secret_key(config.INSTANCE_PATH)
    return config
