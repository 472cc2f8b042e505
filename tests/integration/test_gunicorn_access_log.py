"""gunicorn's access log with the shop's logger class keeps no working secret link."""

from __future__ import annotations

from pathlib import Path

import requests
from flask import Flask
from sqlalchemy.orm import Session

from shop.accounts import tokens
from shop.config import TestConfig
from tests import factories
from tests.integration.test_multiprocess import CLOSE, gunicorn

# The request line, path, query, Referer and Location: every atom that holds an address.
FORMAT = "%(r)s | %(U)s | %(q)s | %(f)s | %({referer}i)s | %({location}o)s | %(s)s"


def test_the_access_log_has_the_links_without_their_tokens(
    app: Flask, config: TestConfig, session: Session, tmp_path: Path
) -> None:
    ann = factories.user(session)
    reset = tokens.issue(session, ann.id, tokens.PASSWORD_RESET)
    session.commit()
    confirm = tokens.new_token()  # signed out, the page asks to sign in before reading it
    access_log = tmp_path / "access.log"
    options = [
        *("--access-logfile", str(access_log), "--access-logformat", FORMAT),
        *("--logger-class", "shop.access_log.RedactingLogger"),
    ]
    with gunicorn(config, tmp_path, preload=False, extra=options) as server:
        link = f"{server.base}/account/password/reset/{reset}"
        opened = requests.get(link, headers={**CLOSE, "Referer": link}, timeout=30)
        assert opened.status_code == 200
        assert "Choose a new password" in opened.text
        signing_in = requests.get(
            f"{server.base}/account/email/verify/{confirm}", headers=CLOSE, timeout=30
        )
        assert signing_in.status_code == 200
        assert signing_in.url.startswith(f"{server.base}/account/login?next=")
        log = server.stop()

    assert server.process.returncode == 0, log
    assert "Traceback" not in log
    lines = access_log.read_text().splitlines()
    assert lines == [
        f"GET /account/password/reset/[redacted] HTTP/1.1 | /account/password/reset/[redacted]"
        f" |  | {server.base}/account/password/reset/[redacted]"
        f" | {server.base}/account/password/reset/[redacted] | - | 200",
        "GET /account/email/verify/[redacted] HTTP/1.1 | /account/email/verify/[redacted]"
        " |  | - | - | /account/login?next=/account/email/verify/[redacted] | 302",
        "GET /account/login?next=/account/email/verify/[redacted] HTTP/1.1 | /account/login"
        " | next=/account/email/verify/[redacted] | - | - | - | 200",
    ]
    assert reset not in log and confirm not in log
