"""QA of member self-service: the data download and the address book."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shop.accounts import privacy
from shop.accounts.models import User
from shop.db import db
from shop.mail.models import OutboxEmail
from tests import factories
from tests.helpers import sign_in


def test_the_data_download_works_while_another_request_writes(
    app: Flask, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The download is a GET, which reads in a deferred transaction; on SQLite such a
    transaction cannot start writing once another connection has written since it began
    (the background worker and the event writer write all the time), so the e-mail that
    confirms the download used to fail the page with a 500 ("database is locked")."""
    member = factories.user(session, "dora@example.com", "Dora")
    other = factories.user(session, "olaf@example.com", "Olaf")
    session.commit()
    client = app.test_client()
    sign_in(client, "dora@example.com", factories.PASSWORD)
    original = privacy.export_data

    def export_then_someone_writes(read: Session, user_id: int) -> dict[str, Any]:
        data = original(read, user_id)
        with db.transaction() as elsewhere:  # another request commits meanwhile
            elsewhere.execute(update(User).where(User.id == other.id).values(name="Olaf B"))
        return data

    monkeypatch.setattr(privacy, "export_data", export_then_someone_writes)
    response = client.get("/account/privacy/export")
    assert response.status_code == 200
    assert response.get_json()["profile"]["email"] == "dora@example.com"
    session.rollback()
    notices = session.scalars(
        select(OutboxEmail).where(
            OutboxEmail.user_id == member.id, OutboxEmail.kind == "account_profile_changed"
        )
    ).all()
    assert ["A copy of your data was downloaded" in n.text_body for n in notices] == [True]
