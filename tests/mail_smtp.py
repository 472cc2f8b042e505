"""A real SMTP server (aiosmtpd) for mail tests, collecting what it receives in memory.

Import the fixture into a test module with `from tests.mail_smtp import smtp_server  # noqa: F401`.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, cast

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

HOST = "127.0.0.1"


def free_port(host: str = HOST) -> int:
    """Return a TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Received:
    """One message as the server received it."""

    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    peer: Any  # (host, port) of the client connection that sent it
    login: str | None = None  # the user name the client authenticated as, if it did

    @property
    def message(self) -> EmailMessage:
        """The message parsed with the modern e-mail API."""
        return cast(EmailMessage, message_from_bytes(self.content, policy=policy.default))


class CollectingHandler:
    """aiosmtpd handler keeping every accepted message; refuses the given recipients (550)."""

    def __init__(self, refuse: Iterable[str] = ()) -> None:
        self.messages: list[Received] = []
        self.refuse = {address.lower() for address in refuse}
        self.lock = threading.Lock()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        """Accept a recipient unless it is on the refuse list."""
        if address.lower() in self.refuse:
            # As Postfix words it: the refusal names the address.
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Keep the message."""
        received = Received(
            mail_from=envelope.mail_from,
            rcpt_tos=list(envelope.rcpt_tos),
            content=envelope.original_content or envelope.content,
            peer=session.peer,
            login=_login_of(session),
        )
        with self.lock:
            self.messages.append(received)
        return "250 Message accepted for delivery"


def _login_of(session: Any) -> str | None:
    data = session.auth_data if session.authenticated else None
    return data.login.decode() if isinstance(data, LoginPassword) else None


class SmtpServer:
    """An aiosmtpd server on a fixed local port that can be stopped and started again.

    With `credentials` it offers AUTH PLAIN/LOGIN without TLS (tests only) and accepts that
    user name and password; mail from clients that do not log in is still accepted.
    """

    def __init__(
        self,
        host: str = HOST,
        port: int | None = None,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.handler = CollectingHandler()
        self.credentials = credentials
        self.controller: Controller | None = None

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and self.credentials == (
            auth_data.login.decode(),
            auth_data.password.decode(),
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    @property
    def messages(self) -> list[Received]:
        """Everything received so far (across restarts)."""
        with self.handler.lock:
            return list(self.handler.messages)

    @property
    def running(self) -> bool:
        """True while the server listens."""
        return self.controller is not None

    def start(self) -> None:
        """Listen on the port."""
        if self.controller is None:
            auth: dict[str, Any] = {}
            if self.credentials is not None:
                auth = {"authenticator": self._authenticate, "auth_require_tls": False}
            controller = Controller(self.handler, hostname=self.host, port=self.port, **auth)
            controller.start()
            self.controller = controller

    def stop(self) -> None:
        """Stop listening (clients then get 'connection refused')."""
        if self.controller is not None:
            controller, self.controller = self.controller, None
            controller.stop()

    def wait_for(self, count: int, timeout_s: float = 5.0) -> list[Received]:
        """Wait until at least `count` messages have arrived and return them all."""
        deadline = time.monotonic() + timeout_s
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.messages


@contextmanager
def running_smtp_server() -> Iterator[SmtpServer]:
    """An SMTP server on 127.0.0.1 and a free port, stopped on leaving the block."""
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A running SMTP server on 127.0.0.1 and a free port, stopped after the test."""
    with running_smtp_server() as server:
        yield server
