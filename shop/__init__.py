"""The shop web application: `create_app()` builds it."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from shop.config import PROJECT_ROOT, Config, default_sqlite_url, load_config


def create_app(config: Config | Mapping[str, Any] | None = None) -> Flask:
    """Build the Flask app from a Config object, a mapping of overrides, or the environment."""
    if isinstance(config, Config):
        settings = config.as_dict()
    else:
        settings = load_config(str((config or {}).get("ENV_NAME") or "") or None).as_dict()
        settings.update(config or {})

    app = Flask(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder="static",
        instance_path=str(settings["INSTANCE_PATH"]),
    )
    app.config.update(settings)
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]
    if not app.config.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = default_sqlite_url(Path(app.instance_path))
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=app.config.get("LOG_LEVEL", "INFO"))
    # Alembic names each of its plugins at INFO as it loads them, before every command.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)

    from loyalty import app as loyalty_app
    from shop import cli, errors, rate_limits, security_headers, templating, web
    from shop.db import db
    from shop.events import bus
    from shop.extensions import csrf, login_manager
    from shop.payments import setup as payments

    db.init_app(app)
    bus.install()
    payments.init_app(app)
    web.init_app(app)  # first, so even a CSRF failure page knows its visitor
    csrf.init_app(app)
    rate_limits.init_app(app)
    login_manager.init_app(app)
    templating.init_app(app)
    errors.init_app(app)
    security_headers.init_app(app)
    cli.init_app(app)
    loyalty_app.init_app(app)
    return app
