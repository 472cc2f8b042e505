"""A real localstripe server for tests, and helpers that do what Stripe.js does in a browser.

Import the fixtures into a test module with
`from tests.stripe_support import config, localstripe_url  # noqa: F401`: that module's
`config` (and so its app) then talks to localstripe.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shop.config import TestConfig

WEBHOOK_SECRET = "whsec_test_secret_for_the_suite"
SECRET_KEY = "sk_test_suite"
PUBLISHABLE_KEY = "pk_test_suite"

CARD_OK = "4242424242424242"
CARD_DECLINED = "4000000000000341"  # attaches, then every charge is declined
CARD_3DS = "4000002500003155"  # asks for 3-D Secure


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _localstripe_command(port: int) -> list[str]:
    exe = Path(sys.executable).with_name("localstripe")
    program = str(exe) if exe.exists() else shutil.which("localstripe")
    if program is None:
        pytest.skip("localstripe is not installed (it is a dev dependency: pip install -e .[dev])")
    # From scratch: start empty, never load state another localstripe saved.
    return [program, "--port", str(port), "--from-scratch"]


@pytest.fixture(scope="session")
def localstripe_url() -> Iterator[str]:
    """Start localstripe once for the session; yield its base URL."""
    port = _free_port()
    proc = subprocess.Popen(
        _localstripe_command(port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("localstripe did not start") from None
            time.sleep(0.1)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def use_localstripe(cfg: TestConfig, url: str) -> TestConfig:
    """Point a test config at localstripe."""
    cfg.STRIPE_SECRET_KEY = SECRET_KEY
    cfg.STRIPE_PUBLISHABLE_KEY = PUBLISHABLE_KEY
    cfg.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    cfg.STRIPE_API_BASE = url
    cfg.STRIPE_JS_URL = f"{url}/js.stripe.com/v3/"
    return cfg


@pytest.fixture
def config(config: TestConfig, localstripe_url: str) -> TestConfig:
    """The shared test config, pointed at localstripe (overrides `config` where imported)."""
    return use_localstripe(config, localstripe_url)


def _post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return dict(json.loads(response.read()))


def browser_card(base_url: str, client_secret: str, number: str = CARD_OK) -> str:
    """Confirm a SetupIntent with a card, as Stripe.js's confirmCardSetup does; return pm id."""
    setup_id = client_secret.split("_secret_")[0]
    result = _post(
        f"{base_url}/v1/setup_intents/{setup_id}/confirm",
        {
            "key": PUBLISHABLE_KEY,
            "use_stripe_sdk": True,
            "client_secret": client_secret,
            "payment_method_data": {
                "type": "card",
                "card": {"number": number, "exp_month": "12", "exp_year": "2034", "cvc": "123"},
            },
        },
    )
    return str(result["payment_method"])


def browser_3ds(base_url: str, client_secret: str, *, success: bool = True) -> dict[str, Any]:
    """Complete (or fail) 3-D Secure, as Stripe.js's confirmCardPayment does."""
    intent_id = client_secret.split("_secret_")[0]
    flag = "true" if success else "false"
    return _post(
        f"{base_url}/v1/payment_intents/{intent_id}/_authenticate?success={flag}",
        {"key": PUBLISHABLE_KEY, "client_secret": client_secret},
    )


def signed_webhook(
    event: dict[str, Any], *, secret: str = WEBHOOK_SECRET, at: int | None = None
) -> tuple[bytes, str]:
    """A webhook body and its Stripe-Signature header (HMAC-SHA256 over `t.payload`)."""
    payload = json.dumps(event).encode()
    timestamp = int(time.time()) if at is None else at
    signed = f"{timestamp}.".encode() + payload
    signature = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return payload, f"t={timestamp},v1={signature}"


def intent_event(
    event_id: str, kind: str, intent_id: str, order_id: int, amount: int, **extra: Any
) -> dict[str, Any]:
    """A minimal Stripe `payment_intent.*` event."""
    obj = {
        "id": intent_id,
        "object": "payment_intent",
        "amount": amount,
        "currency": extra.pop("currency", "gbp"),
        "status": extra.pop("status", "succeeded"),
        "client_secret": f"{intent_id}_secret_x",
        "metadata": {"order_id": str(order_id), "attempt": extra.pop("attempt", "1")},
        "payment_method": None,
        "last_payment_error": extra.pop("last_payment_error", None),
    }
    obj.update(extra)
    return {
        "id": event_id,
        "object": "event",
        "type": kind,
        "api_version": "2024-06-20",
        "created": int(time.time()),
        "data": {"object": obj},
    }
