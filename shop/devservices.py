"""What `make run` starts next to the web server: localstripe, an SMTP catcher, and a
background worker that sends mail, publishes events, releases expired stock holds and runs
the daily jobs."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from flask import Flask

log = logging.getLogger(__name__)

LOCALSTRIPE_PORT = int(os.environ.get("LOCALSTRIPE_PORT", "8420"))
DEV_STRIPE_ENV = {
    "STRIPE_SECRET_KEY": "sk_test_localstripe",
    "STRIPE_PUBLISHABLE_KEY": "pk_test_localstripe",
    "STRIPE_WEBHOOK_SECRET": "whsec_localstripe_dev",
}
HOUSEKEEPING_EVERY_S = 60
HOURLY_EVERY_S = 3600
DAILY_EVERY_S = 24 * 3600


def port_open(host: str, port: int) -> bool:
    """True when something accepts connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.3):
            return True
    except OSError:
        return False


def _wait_for(host: str, port: int, proc: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not port_open(host, port):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"localstripe did not start on port {port}")
        time.sleep(0.1)


@contextmanager
def local_stripe(instance: Path) -> Iterator[str | None]:
    """Run localstripe on 127.0.0.1 and point the app's settings at it (via the environment).

    Does nothing when STRIPE_SECRET_KEY is set: then the shop talks to Stripe itself.
    Yields the base URL, or None.
    """
    if os.environ.get("STRIPE_SECRET_KEY"):
        yield None
        return
    url = f"http://127.0.0.1:{LOCALSTRIPE_PORT}"
    proc: subprocess.Popen[bytes] | None = None
    if port_open("127.0.0.1", LOCALSTRIPE_PORT):
        log.warning("port %d is in use; assuming it is localstripe", LOCALSTRIPE_PORT)
    else:
        exe = Path(sys.executable).with_name("localstripe")
        program = str(exe) if exe.exists() else shutil.which("localstripe") or "localstripe"
        instance.mkdir(parents=True, exist_ok=True)
        logfile = (instance / "localstripe.log").open("ab")
        proc = subprocess.Popen(
            [program, "--port", str(LOCALSTRIPE_PORT)], stdout=logfile, stderr=logfile
        )
        logfile.close()
        _wait_for("127.0.0.1", LOCALSTRIPE_PORT, proc, 20)
    os.environ.update(DEV_STRIPE_ENV)
    os.environ["STRIPE_API_BASE"] = url
    os.environ["STRIPE_JS_URL"] = f"{url}/js.stripe.com/v3/"
    try:
        yield url
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()


@contextmanager
def mail_catcher(app: Flask) -> Iterator[Path | None]:
    """Catch the shop's mail on SMTP_HOST:SMTP_PORT into instance/mail/ (unless in use)."""
    from shop.mail.catcher import start_catcher

    host, port = app.config["SMTP_HOST"], int(app.config["SMTP_PORT"])
    if host not in ("127.0.0.1", "localhost") or port_open(host, port):
        yield None
        return
    directory = Path(app.instance_path) / "mail"
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every connection
    controller = start_catcher(host, port, directory)
    try:
        yield directory
    finally:
        controller.stop()


def _housekeeping(app: Flask) -> None:
    from shop.checkout.pricing import CheckoutSettings
    from shop.db import db
    from shop.orders.holds import release_expired
    from shop.payments.services import expire_waiting_payments
    from shop.payments.setup import PaymentsNotConfigured, gateway

    with app.app_context():
        with db.transaction() as session:
            release_expired(session)
        try:  # holds kept for an open 3-D Secure check: cancel the check, then release
            settings = CheckoutSettings.from_config(app.config)
            expire_waiting_payments(db.transaction, gateway(), settings)
        except PaymentsNotConfigured:
            pass


def _tiers(app: Flask) -> None:
    from loyalty.tiers import evaluate_tiers
    from shop.db import db

    with app.app_context():
        log.info("daily: %s", evaluate_tiers(db.transaction).summary())


def _expiry(app: Flask) -> None:
    from loyalty.expiry import expire_points
    from shop.db import db

    with app.app_context():
        log.info("daily: %s", expire_points(db.transaction).summary())


def _launches(app: Flask) -> None:
    from flask import current_app

    from loyalty.launch_news import announce_launches
    from loyalty.preferences import links_from_config
    from shop.db import db

    with app.app_context():
        report = announce_launches(db.transaction, links_from_config(current_app.config))
        if report.announced or any(sent.queued for sent in report.sends):
            log.info("launches: %s", report.summary())


def _stock_alerts(app: Flask) -> None:
    from flask import current_app

    from shop.catalog.stock_alert_jobs import send_back_in_stock
    from shop.db import db

    with app.app_context():
        report = send_back_in_stock(db.transaction, str(current_app.config["SHOP_BASE_URL"]))
        if report.emails:
            log.info("stock alerts: %s", report.summary())


def _segment_mailings(app: Flask) -> None:
    from flask import current_app

    from loyalty.preferences import links_from_config
    from loyalty.segment_mailings import send_queued
    from shop.db import db

    with app.app_context():
        for report in send_queued(db.transaction, links_from_config(current_app.config)):
            log.info(
                "segment mailing %s: %d queued, %d without personal picks",
                report.key,
                report.queued,
                report.no_picks,
            )


def _sign_ins(app: Flask) -> None:
    from shop.accounts.sign_ins import prune_ended
    from shop.db import db

    with app.app_context():
        log.info("daily: pruned %d ended sign-in(s)", prune_ended(db.transaction))


def _retention(app: Flask) -> None:
    from flask import current_app

    from shop.db import db
    from shop.retention import Retention, prune

    with app.app_context():
        report = prune(db.transaction, Retention.from_config(current_app.config))
        for line in report.lines():
            log.info("daily: %s", line)


def _lapse_returns(app: Flask) -> None:
    from shop.checkout.pricing import CheckoutSettings
    from shop.db import db
    from shop.returns.handling import lapse_returns

    with app.app_context():
        lapsed = lapse_returns(db.transaction, CheckoutSettings.from_config(app.config))
        if lapsed:
            log.info("daily: closed %d return(s) whose parcel never arrived", len(lapsed))


def _events_and_mail(app: Flask) -> None:
    from shop.db import db
    from shop.events.bus import dispatch_pending
    from shop.mail.sender import send_pending

    with app.app_context():
        assert db.write_session_factory is not None
        dispatch_pending(db.write_session_factory)
        send_pending(app)


@dataclass
class PeriodicJob:
    """A job run every `every_s` seconds; after a failure it is tried again in `retry_s`."""

    name: str
    run: Callable[[Flask], None]
    every_s: float
    retry_s: float
    due_at: float = 0.0  # time.monotonic() value; 0 runs it on the first pass

    def run_if_due(self, app: Flask, now: float) -> None:
        """Run the job when due, and schedule the next run whether it worked or not."""
        if now < self.due_at:
            return
        try:
            self.run(app)
        except Exception:
            log.exception("background job %s failed; trying again in %d s", self.name, self.retry_s)
            self.due_at = now + self.retry_s
        else:
            self.due_at = now + self.every_s


def dev_jobs() -> list[PeriodicJob]:
    """The jobs `make run` does in the background; in production, the sender, the event
    dispatcher and cron run them (the daily ones are tier evaluation, points expiry,
    pruning ended sign-ins and data past its retention period, and closing returns whose
    parcel never arrived; launch announcements run
    hourly, back-in-stock e-mails and mailings to a segment every minute)."""
    return [
        PeriodicJob("events and mail", _events_and_mail, every_s=0, retry_s=0),
        PeriodicJob("housekeeping", _housekeeping, HOUSEKEEPING_EVERY_S, HOUSEKEEPING_EVERY_S),
        PeriodicJob("stock alerts", _stock_alerts, HOUSEKEEPING_EVERY_S, HOUSEKEEPING_EVERY_S),
        PeriodicJob(
            "segment mailings", _segment_mailings, HOUSEKEEPING_EVERY_S, HOUSEKEEPING_EVERY_S
        ),
        PeriodicJob("tier evaluation", _tiers, DAILY_EVERY_S, HOUSEKEEPING_EVERY_S),
        PeriodicJob("points expiry", _expiry, DAILY_EVERY_S, HOUSEKEEPING_EVERY_S),
        PeriodicJob("sign-in pruning", _sign_ins, DAILY_EVERY_S, HOUSEKEEPING_EVERY_S),
        PeriodicJob("data retention", _retention, DAILY_EVERY_S, HOUSEKEEPING_EVERY_S),
        PeriodicJob("returns lapse", _lapse_returns, DAILY_EVERY_S, HOUSEKEEPING_EVERY_S),
        PeriodicJob("launch announcements", _launches, HOURLY_EVERY_S, HOUSEKEEPING_EVERY_S),
    ]


def _worker(app: Flask, stop: threading.Event) -> None:
    jobs = dev_jobs()
    while not stop.wait(2.0):
        for job in jobs:
            job.run_if_due(app, time.monotonic())


@contextmanager
def background_worker(app: Flask) -> Iterator[None]:
    """Send mail, publish events and release expired holds every few seconds; evaluate
    loyalty tiers, expire points, prune ended sign-ins and data past its retention period on
    start and then daily."""
    stop = threading.Event()
    thread = threading.Thread(target=_worker, args=(app, stop), name="dev-worker", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)
