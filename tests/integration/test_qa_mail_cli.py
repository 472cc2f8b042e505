"""QA of `flask mail list`: its columns stay aligned for every status."""

from __future__ import annotations

from flask import Flask
from sqlalchemy.orm import Session

from shop.mail.outbox import STATUSES, enqueue_email


def test_mail_list_keeps_its_columns_aligned_for_every_status(app: Flask, session: Session) -> None:
    with app.app_context():
        for status in STATUSES:
            row = enqueue_email(
                session,
                kind="account_password_changed",
                to=f"{status}@example.com",
                subject=f"A {status} e-mail",
                template="account_password_changed",
                context={
                    "name": "Ann",
                    "reset_url": "http://127.0.0.1:5000/account/password/reset",
                },
            )
            row.status = status
        session.commit()
    listed = app.test_cli_runner().invoke(args=["mail", "list"])
    assert listed.exit_code == 0, listed.output
    lines = [line for line in listed.output.splitlines() if "@example.com" in line]
    assert len(lines) == len(STATUSES)
    header = next(line for line in listed.output.splitlines() if line.lstrip().startswith("id"))
    for line in lines:
        # The address starts in the "to" column whatever the length of the status.
        assert line.index(line.split()[4]) == header.index("to"), (header, line)
