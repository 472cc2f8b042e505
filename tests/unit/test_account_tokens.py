"""Token helpers: random tokens, their stored hash, and when a token may still be used."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import pytest

from shop.accounts import tokens

NOW = datetime(2026, 11, 23, 12, 0)


def test_tokens_are_long_random_and_url_safe() -> None:
    made = {tokens.new_token() for _ in range(200)}
    assert len(made) == 200
    for token in made:
        assert len(token) >= 43  # 256 bits in base64url
        assert all(ch.isalnum() or ch in "-_" for ch in token)
        assert tokens.looks_like_token(token)


def test_only_the_sha256_is_stored() -> None:
    token = tokens.new_token()
    digest = tokens.hash_token(token)
    assert digest == hashlib.sha256(token.encode()).hexdigest()
    assert len(digest) == 64 and token not in digest
    assert tokens.hash_token(token) == digest  # deterministic, so it can be looked up
    assert tokens.hash_token(token + "x") != digest


@pytest.mark.parametrize("text", ["", "x" * 101, "tökén", "a b\u00e9"])
def test_implausible_tokens_are_rejected_before_any_lookup(text: str) -> None:
    assert not tokens.looks_like_token(text)


def test_a_fresh_unused_token_is_usable() -> None:
    tokens.check_usable(None, NOW + timedelta(seconds=1), NOW)


def test_a_used_token_is_gone_even_before_it_expires() -> None:
    with pytest.raises(tokens.TokenUsed) as caught:
        tokens.check_usable(NOW - timedelta(minutes=5), NOW + timedelta(hours=1), NOW)
    assert caught.value.status == 410
    assert "already been used" in str(caught.value)


def test_a_token_expires_at_its_deadline() -> None:
    with pytest.raises(tokens.TokenExpired) as caught:
        tokens.check_usable(None, NOW, NOW)
    assert caught.value.status == 410
    assert "expired" in str(caught.value)


def test_lifetimes_and_statuses() -> None:
    assert tokens.LIFETIMES[tokens.PASSWORD_RESET] == timedelta(hours=1)
    assert tokens.LIFETIMES[tokens.EMAIL_CHANGE] <= timedelta(days=1)
    assert tokens.TokenInvalid.status == 400
    assert issubclass(tokens.TokenUsed, tokens.TokenError)
