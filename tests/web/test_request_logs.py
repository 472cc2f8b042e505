"""Request logs keep no working secret link: the dev server's (`make run`) and the app's own."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests
from flask import Flask
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from shop.access_log import RedactingRequestHandler
from shop.accounts import tokens
from tests import factories


@contextmanager
def dev_server(app: Flask) -> Iterator[str]:
    """The app on werkzeug's server with the request handler `make run` uses; its address."""
    server = make_server(
        "127.0.0.1", 0, app, threaded=True, request_handler=RedactingRequestHandler
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_reset_link_is_logged_without_its_token(
    app: Flask, session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    ann = factories.user(session)
    token = tokens.issue(session, ann.id, tokens.PASSWORD_RESET)
    session.commit()
    with caplog.at_level(logging.INFO, logger="werkzeug"), dev_server(app) as base:
        opened = requests.get(f"{base}/account/password/reset/{token}", timeout=30)
        signing_in = requests.get(
            f"{base}/account/login", params={"next": f"/account/password/reset/{token}"}, timeout=30
        )
    assert opened.status_code == 200
    assert "Choose a new password" in opened.text
    assert signing_in.status_code == 200
    lines = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert len(lines) == 2
    assert '"GET /account/password/reset/[redacted] HTTP/1.1" 200' in lines[0]
    assert '"GET /account/login?next=/account/password/reset/[redacted] HTTP/1.1" 200' in lines[1]
    assert not [line for line in lines if token in line]


def test_an_error_on_a_secret_link_is_logged_without_its_token(
    app: Flask, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr("shop.orders.views.order_by_token", broken)
    with caplog.at_level(logging.ERROR, logger="shop.errors"):
        response = app.test_client().get("/orders/Zk3-q_9xSECRET")
    assert response.status_code == 500
    assert [r.getMessage() for r in caplog.records if r.name == "shop.errors"] == [
        "unhandled error on GET /orders/[redacted]"
    ]
