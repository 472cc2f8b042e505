"""A local SMTP catcher for development: every message it receives is saved as an .eml file.

Run it alone with `python -m shop.mail.catcher` (SMTP_HOST:SMTP_PORT, files in instance/mail/),
or start it from code with `start_catcher(host, port, directory)`.
"""

from __future__ import annotations

import argparse
import logging
import re
import signal
import threading
import unicodedata
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

log = logging.getLogger(__name__)

MAX_SLUG_CHARS = 60


def subject_slug(subject: str) -> str:
    """Turn a subject into a short, safe file-name part ('Order #12 paid!' -> 'order-12-paid')."""
    ascii_text = unicodedata.normalize("NFKD", subject).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:MAX_SLUG_CHARS].rstrip("-") or "no-subject"


class SaveToDirectory:
    """aiosmtpd handler writing each message, as received, to a timestamped .eml file."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._lock = threading.Lock()

    def save(self, content: bytes, received_at: datetime | None = None) -> Path:
        """Write one raw message to a new file and return its path."""
        subject = str(message_from_bytes(content, policy=policy.default).get("Subject", ""))
        stamp = (received_at or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S-%f")
        base = f"{stamp}-{subject_slug(subject)}"
        with self._lock:
            self.directory.mkdir(parents=True, exist_ok=True)
            for n in range(1000):
                path = self.directory / (f"{base}.eml" if n == 0 else f"{base}-{n}.eml")
                try:
                    with path.open("xb") as out:
                        out.write(content)
                    return path
                except FileExistsError:
                    continue
        raise FileExistsError(f"no free file name for {base}")

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Save the message and accept it."""
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8")
        path = self.save(content)
        recipients = ", ".join(envelope.rcpt_tos)
        log.info("caught mail from %s to %s -> %s", envelope.mail_from, recipients, path.name)
        return "250 Message accepted for delivery"


def start_catcher(host: str, port: int, directory: Path | str) -> Controller:
    """Start an SMTP server on host:port in a background thread; stop it with `.stop()`."""
    # aiosmtpd logs every SMTP command at INFO; one line per caught message is enough here.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    controller = Controller(SaveToDirectory(Path(directory)), hostname=host, port=port)
    controller.start()
    log.info("mail catcher listening on %s:%s, saving to %s", host, port, directory)
    return controller


def main(argv: list[str] | None = None) -> None:
    """Run the catcher until Ctrl-C or SIGTERM."""
    from shop.config import Config

    config = Config()
    parser = argparse.ArgumentParser(
        description="Catch the shop's outgoing e-mail locally and save each message as .eml."
    )
    parser.add_argument("--host", default=config.SMTP_HOST, help="address to listen on")
    parser.add_argument("--port", type=int, default=config.SMTP_PORT, help="port to listen on")
    parser.add_argument(
        "--directory",
        type=Path,
        default=config.INSTANCE_PATH / "mail",
        help="where to save the .eml files (default: instance/mail)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda _sig, _frame: stop.set())
    controller = start_catcher(args.host, args.port, args.directory)
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
