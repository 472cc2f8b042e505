"""Token storage: issue, find, spend once, void; purposes never mix."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.accounts import tokens
from shop.accounts.models import AccountToken
from shop.db import utcnow
from tests import factories


def test_issue_stores_only_the_hash_and_spends_once(session: Session) -> None:
    ann = factories.user(session)
    token = tokens.issue(session, ann.id, tokens.PASSWORD_RESET)
    row = session.scalar(select(AccountToken))
    assert row is not None and row.token_hash == tokens.hash_token(token)
    assert row.expires_at - row.created_at == timedelta(hours=1)
    assert tokens.find(session, token, tokens.PASSWORD_RESET).id == row.id
    spent = tokens.consume(session, token, tokens.PASSWORD_RESET)
    assert spent.used_at is not None
    with pytest.raises(tokens.TokenUsed):
        tokens.consume(session, token, tokens.PASSWORD_RESET)


def test_purposes_do_not_mix_and_unknown_tokens_are_invalid(session: Session) -> None:
    ann = factories.user(session)
    token = tokens.issue(session, ann.id, tokens.EMAIL_CHANGE, new_email="a@example.com")
    with pytest.raises(tokens.TokenInvalid):
        tokens.find(session, token, tokens.PASSWORD_RESET)
    with pytest.raises(tokens.TokenInvalid):
        tokens.find(session, tokens.new_token(), tokens.EMAIL_CHANGE)
    with pytest.raises(ValueError):
        tokens.issue(session, ann.id, "login")


def test_expired_and_voided_tokens(session: Session) -> None:
    ann = factories.user(session)
    bob = factories.user(session, "bob@example.com")
    past = utcnow() - timedelta(hours=2)
    old = tokens.issue(session, ann.id, tokens.PASSWORD_RESET, now=past)
    with pytest.raises(tokens.TokenExpired):
        tokens.consume(session, old, tokens.PASSWORD_RESET)
    first = tokens.issue(session, ann.id, tokens.PASSWORD_RESET)
    second = tokens.issue(session, ann.id, tokens.PASSWORD_RESET)
    bobs = tokens.issue(session, bob.id, tokens.PASSWORD_RESET)
    assert tokens.recent_count(session, ann.id, tokens.PASSWORD_RESET, timedelta(hours=1)) == 2
    assert tokens.void_all(session, ann.id, tokens.PASSWORD_RESET) == 3
    session.expire_all()
    for token in (first, second):
        with pytest.raises(tokens.TokenUsed):
            tokens.find(session, token, tokens.PASSWORD_RESET)
    assert tokens.find(session, bobs, tokens.PASSWORD_RESET).user_id == bob.id
