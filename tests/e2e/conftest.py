"""Browser-test fixtures: a live shop server on a seeded SQLite file, and Debian's Chromium
driven through Playwright's sync API (never `playwright install`; see DESIGN.md)."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from werkzeug.serving import BaseWSGIServer, make_server

from shop import create_app
from shop.config import TestConfig
from shop.db import db
from shop.migrate import upgrade
from tests.factories import small_catalogue

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

E2E_DIR = Path(__file__).resolve().parent
DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ACTION_TIMEOUT_MS = 10_000
FAILED_KEY = pytest.StashKey[bool]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every browser test `e2e` and run them after all other tests.

    Playwright's sync API leaves its event loop marked as running in the main thread for as
    long as the browser is open (the whole session), so a later non-browser test calling
    asyncio.run() would fail; running the browser tests last keeps that out of their way.
    """
    browser_tests = [item for item in items if item.path.resolve().is_relative_to(E2E_DIR)]
    for item in browser_tests:
        item.add_marker(pytest.mark.e2e)
    if browser_tests:
        chosen = set(browser_tests)
        items[:] = [item for item in items if item not in chosen] + browser_tests


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    """Remember on the test item whether its call phase failed (for failure screenshots)."""
    report = yield
    if report.when == "call" and report.failed:
        item.stash[FAILED_KEY] = True
    return report


def chromium_path() -> str:
    """Return the Chromium executable; skip (or fail when SHOP_REQUIRE_E2E=1) if missing."""
    path = os.environ.get("CHROMIUM_PATH") or DEFAULT_CHROMIUM
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        message = f"Chromium not found at {path}; install Debian's chromium to run browser tests"
        if os.environ.get("SHOP_REQUIRE_E2E") == "1":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return path


def _check_no_running_loop() -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    pytest.fail("an asyncio loop is running in this thread; Playwright's sync API can't run here")


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Debian Chromium driven by Playwright's sync API, shared by every browser test."""
    executable = chromium_path()
    _check_no_running_loop()
    with sync_playwright() as driver:
        chromium = driver.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


def _closed_at_the_end(response: Iterable[bytes]) -> Iterator[bytes]:
    try:
        yield from response
    finally:
        close = getattr(response, "close", None)
        if close is not None:
            close()


def closing_responses(app: WSGIApplication) -> WSGIApplication:
    """Wrap a WSGI app so that each response is closed even when the browser goes away
    mid-response: werkzeug's server then stops iterating without calling close(), and the
    open static file would fail the suite with a ResourceWarning. The generator's own
    finaliser closes the response once the server drops it."""

    def wrapped(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        return _closed_at_the_end(app(environ, start_response))

    return wrapped


class LiveServer:
    """A real HTTP server for the app in a daemon thread."""

    def __init__(self, server: BaseWSGIServer) -> None:
        server.app = closing_responses(server.app)
        self.server = server
        self.thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self.url = f"http://127.0.0.1:{server.server_port}"

    def start(self) -> None:
        """Start serving requests."""
        self.thread.start()

    def stop(self) -> None:
        """Stop serving, wait for the thread and close the listening socket."""
        self.server.shutdown()
        self.thread.join(timeout=10)
        self.server.server_close()
        if self.thread.is_alive():
            raise RuntimeError("the live server thread did not stop")


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Serve the shop on a fresh, migrated and seeded SQLite file; yield its base URL.

    Shared by a module's tests: each test gets a fresh browser context, so a new visitor and
    an empty cart, and the tests don't change stock or any other shared data.
    """
    root = tmp_path_factory.mktemp("e2e")
    database = root / "shop.sqlite3"
    upgrade(f"sqlite:///{database}")

    config = TestConfig()
    config.DATABASE_URL = f"sqlite:///{database}"
    config.INSTANCE_PATH = root / "instance"
    config.SHOP_DATA_DIR = root / "data"
    app = create_app(config)
    with app.app_context():
        small_catalogue(db.session)

    live = LiveServer(make_server("127.0.0.1", 0, app, threaded=True))
    live.start()
    try:
        yield live.url
    finally:
        live.stop()
        db.session.remove()
        db.dispose()


@contextmanager
def browser_page(
    browser: Browser, base_url: str, request: pytest.FixtureRequest, shot: Path, who: str
) -> Iterator[Page]:
    """A page in a fresh browser context (its own cookies); when the test fails, a
    screenshot of it is saved to `shot` and its path printed."""
    context = browser.new_context(base_url=base_url, locale="en-GB")
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    tab = context.new_page()
    try:
        yield tab
    finally:
        if request.node.stash.get(FAILED_KEY, False) and not tab.is_closed():
            tab.screenshot(path=str(shot), full_page=True)
            print(f"screenshot of {who}: {shot} ({tab.url})")
        context.close()


@pytest.fixture
def page(
    browser: Browser, live_server: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Page]:
    """A page in a fresh browser context (its own cookies) whose base URL is the live shop."""
    with browser_page(
        browser, live_server, request, tmp_path / "failure.png", "the failed page"
    ) as tab:
        yield tab
