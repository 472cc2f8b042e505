"""A live shop for browser journeys that pay through localstripe and send real e-mail:
the app on a fresh SQLite file, an aiosmtpd server, and helpers to read what arrived."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from shop import create_app
from shop.config import TestConfig
from shop.db import db
from shop.mail.sender import SendReport, send_pending
from shop.migrate import upgrade
from tests.e2e.conftest import LiveServer
from tests.mail_smtp import SmtpServer, running_smtp_server
from tests.stripe_support import use_localstripe


@dataclass
class MailShop:
    """The live shop, the mail server its outbox is delivered to, and the seeded shopper."""

    app: Flask
    url: str
    smtp: SmtpServer
    email: str = ""

    def deliver_mail(self) -> SendReport:
        """Send the pending outbox e-mails, as `flask mail send` does."""
        with self.app.app_context():
            return send_pending(self.app)

    def mail_to(self, address: str) -> list[EmailMessage]:
        """The messages the SMTP server received for one address."""
        return [m.message for m in self.smtp.messages if address in m.rcpt_tos]


@contextmanager
def mail_shop(
    root: Path, localstripe_url: str, smtp: SmtpServer, seed: Callable[[Session], str]
) -> Iterator[MailShop]:
    """Serve the shop on a fresh, migrated SQLite file under `root`, paying through
    localstripe and sending mail to `smtp`. `seed` fills the database and returns the
    shopper's e-mail (or "")."""
    database = root / "shop.sqlite3"
    upgrade(f"sqlite:///{database}")
    config = use_localstripe(TestConfig(), localstripe_url)
    config.DATABASE_URL = f"sqlite:///{database}"
    config.INSTANCE_PATH = root / "instance"
    config.SHOP_DATA_DIR = root / "data"
    config.SMTP_HOST = smtp.host
    config.SMTP_PORT = smtp.port
    app = create_app(config)
    with app.app_context():
        email = seed(db.session)
        db.session.commit()
    live = LiveServer(make_server("127.0.0.1", 0, app, threaded=True))
    app.config["SHOP_BASE_URL"] = live.url  # links in e-mails point at this server
    live.start()
    try:
        yield MailShop(app=app, url=live.url, smtp=smtp, email=email)
    finally:
        live.stop()
        db.session.remove()
        db.dispose()


def text_body(message: EmailMessage) -> str:
    """The plain-text part of a message."""
    part = message.get_body(preferencelist=("plain",))
    assert part is not None, message
    return str(part.get_content())


# Module-scoped fixtures `smtp`, `shop` and `live_server` for a journey module: import
# `smtp_fixture`, `shop_fixture` and `live_server_fixture` (with `localstripe_url` from
# tests.stripe_support) and define `seed_shop(session)`, which fills the database and
# returns the shopper's e-mail (or "").


@pytest.fixture(scope="module", name="smtp")
def smtp_fixture() -> Iterator[SmtpServer]:
    """An aiosmtpd server for the module's tests."""
    with running_smtp_server() as server:
        yield server


@pytest.fixture(scope="module", name="shop")
def shop_fixture(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    localstripe_url: str,
    smtp: SmtpServer,
) -> Iterator[MailShop]:
    """The module's live shop, seeded by the module's `seed_shop`."""
    root = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])
    with mail_shop(root, localstripe_url, smtp, request.module.seed_shop) as live:
        yield live


@pytest.fixture(scope="module", name="live_server")
def live_server_fixture(shop: MailShop) -> str:
    """The base URL the `page` fixture opens (overrides the conftest's plain shop)."""
    return shop.url
