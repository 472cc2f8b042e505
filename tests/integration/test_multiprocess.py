"""The shop as it is deployed: gunicorn with several worker processes (with and without
--preload) on this test's database, driven over real HTTP.

Each worker has its own event writer thread, model cache and secret key read from the
instance folder; these tests check that what one worker does is seen by the others and
that nothing queued is lost when gunicorn stops its workers.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shop.catalog.models import Product
from shop.config import PROJECT_ROOT, TestConfig
from shop.db import db, utcnow
from shop.personalization import service
from shop.recommendation_models import Impression
from shop.recommendations import MODEL_CHECK_S
from shop.tracking.models import Event
from tests.recommendation_support import trained_buyers

pytest.importorskip(
    "gunicorn", reason="gunicorn is not installed: `pip install -e '.[dev]'` brings it"
)
from gunicorn.config import KNOWN_SETTINGS

WORKERS = 3
LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")
# Each request on a connection of its own, so requests spread over the workers.
CLOSE = {"Connection": "close"}
# gunicorn 24+ opens a control socket at one fixed path in $HOME; test runs share $HOME.
NO_CONTROL_SOCKET = (
    ["--no-control-socket"]
    if any("--no-control-socket" in (setting.cli or []) for setting in KNOWN_SETTINGS)
    else []
)


@dataclass
class Server:
    """A running gunicorn and where its output goes."""

    process: subprocess.Popen[bytes]
    base: str
    log: Path

    def stop(self) -> str:
        """Stop gracefully (SIGTERM, as systemd and `docker stop` do); return the log."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=60)
        return self.log.read_text()


@contextmanager
def gunicorn(
    config: TestConfig, tmp_path: Path, *, preload: bool, extra: Sequence[str] = ()
) -> Iterator[Server]:
    """gunicorn serving `shop:create_app()` with the development settings, on the test's
    database and instance folder, with the background event writer; `extra` options last."""
    env = {
        **os.environ,
        "SHOP_ENV": "development",
        "DATABASE_URL": config.DATABASE_URL,
        "SHOP_INSTANCE_PATH": str(config.INSTANCE_PATH),
        "SHOP_TRACKING_WRITER": "background",
        "RATELIMIT_ENABLED": "off",
        "OPENBLAS_NUM_THREADS": "1",
    }
    env.pop("SECRET_KEY", None)  # each worker reads (or makes) instance/secret_key
    log = tmp_path / f"gunicorn-{'preload' if preload else 'plain'}.log"
    args = [
        *(sys.executable, "-m", "gunicorn", "--workers", str(WORKERS)),
        *("--bind", "127.0.0.1:0", "--access-logfile", "-"),
        *("--access-logformat", "%(p)s %(m)s %(U)s %(s)s", *NO_CONTROL_SOCKET),
        *(["--preload"] if preload else []),
        *extra,
        "shop:create_app()",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(args, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=out)
    server = Server(process, "", log)
    try:
        while not (found := LISTENING.search(log.read_text())):
            if process.poll() is not None:
                pytest.fail(f"gunicorn did not start:\n{log.read_text()}")
            time.sleep(0.05)
        server.base = f"http://127.0.0.1:{found.group(1)}"
        yield server
    finally:
        server.stop()


def _csrf(text: str) -> str:
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', text)
    assert found is not None
    return found.group(1)


@pytest.mark.parametrize("preload", [False, True], ids=["plain", "preload"])
def test_events_from_every_worker_are_stored_by_the_time_gunicorn_stops(
    app: Flask,
    config: TestConfig,
    session: Session,
    items: dict[str, Product],
    tmp_path: Path,
    preload: bool,
) -> None:
    """Views served by any worker are stored, the last ones (still queued in a writer
    thread when SIGTERM comes) by the worker's shutdown; a form from one worker posts to
    another (one secret key, made once for all of them)."""
    pages = [f"/products/{item.id}" for item in items.values() if item.active] * 8
    with gunicorn(config, tmp_path, preload=preload) as server:
        served = [requests.get(server.base + page, headers=CLOSE, timeout=30) for page in pages]
        assert [r.status_code for r in served] == [200] * len(pages)

        for _ in range(2 * WORKERS):
            browser = requests.Session()
            form = browser.get(server.base + "/account/login", headers=CLOSE, timeout=30)
            sent = browser.post(
                server.base + "/account/login",
                data={"csrf_token": _csrf(form.text), "email": "x@example.com", "password": "x"},
                headers=CLOSE,
                timeout=30,
            )
            # The password was checked: the token of one worker's form passed another's.
            assert sent.status_code == 400
            assert "Incorrect e-mail address or password." in sent.text
        log = server.stop()

    assert server.process.returncode == 0, log
    assert "Traceback" not in log
    session.rollback()
    views = session.scalar(
        select(func.count()).select_from(Event).where(Event.kind == "product_view")
    )
    assert views == len(pages)
    key = (config.INSTANCE_PATH / "secret_key").read_text()
    assert re.fullmatch(r"[0-9a-f]{64}", key)


def test_a_newly_activated_model_is_served_by_every_worker_without_a_restart(
    app: Flask, config: TestConfig, session: Session, tmp_path: Path
) -> None:
    trained_buyers(app, session)
    with app.app_context():
        first = service().store.active()
    product = session.scalars(select(Product).where(Product.sku == "C1")).one()
    page = f"/products/{product.id}"
    with gunicorn(config, tmp_path, preload=True) as server:
        for _ in range(4 * WORKERS):
            assert requests.get(server.base + page, headers=CLOSE, timeout=30).status_code == 200
        with app.app_context():
            second = service().train(db.session)
        assert second != first
        time.sleep(MODEL_CHECK_S)  # each worker looks at the active version this often
        since = utcnow()
        for _ in range(4 * WORKERS):
            assert requests.get(server.base + page, headers=CLOSE, timeout=30).status_code == 200
        log = server.stop()

    assert server.process.returncode == 0, log
    session.rollback()
    shown = session.execute(
        select(Impression.model_version, Impression.created_at >= since).where(
            Impression.placement == "product"
        )
    ).all()
    assert sorted({tuple(row) for row in shown}) == sorted({(first, False), (second, True)})
    assert len(shown) == 8 * WORKERS
