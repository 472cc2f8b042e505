"""E-mail preferences: double opt-in through the outbox, one-click unsubscribe, favourite
categories, and that one member can never change another's choices."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from loyalty import membership, tiers
from loyalty.favourites import favourite_category_ids
from loyalty.models import CommunicationPreference, FavouriteCategory
from loyalty.preferences import unsubscribe_token
from shop.accounts.models import ConsentRecord, User
from shop.db import db
from shop.mail.models import OutboxEmail
from shop.mail.outbox import enqueue_email
from tests import factories
from tests.helpers import csrf_token, sign_in, unsigned

SECRET = "test-secret-key-not-for-production-use"
CONFIRM_RE = re.compile(r"https?://[^/\s]+(/preferences/confirm/[A-Za-z0-9_-]+)")
UNSUB_RE = re.compile(r"https?://[^/\s]+(/preferences/unsubscribe/[A-Za-z0-9_.-]+)")


def _emails(session: Session, kind: str) -> list[OutboxEmail]:
    session.rollback()
    return list(
        session.scalars(
            select(OutboxEmail).where(OutboxEmail.kind == kind).order_by(OutboxEmail.id)
        )
    )


def _status(session: Session, user_id: int, topic: str) -> str:
    session.rollback()
    row = session.scalar(
        select(CommunicationPreference).where(
            CommunicationPreference.user_id == user_id, CommunicationPreference.topic == topic
        )
    )
    return row.status if row else "off"


def _consents(session: Session, user_id: int) -> list[tuple[str, bool]]:
    session.rollback()
    rows = session.scalars(
        select(ConsentRecord).where(ConsentRecord.user_id == user_id).order_by(ConsentRecord.id)
    )
    return [(r.kind, r.granted) for r in rows]


def _member(client: FlaskClient, session: Session, email: str, name: str) -> int:
    user = factories.user(session, email, name)
    user_id = user.id
    session.commit()
    sign_in(client, email, factories.PASSWORD)
    session.rollback()
    return user_id


def _save_topics(client: FlaskClient, *topics: str) -> int:
    token = csrf_token(client, "/account/preferences")
    data = {"csrf_token": token, **dict.fromkeys(topics, "y")}
    return client.post("/account/preferences", data=data).status_code


def _path(pattern: re.Pattern[str], text: str) -> str:
    match = pattern.search(text)
    assert match, text[:800]
    return match.group(1)


def _confirm(client: FlaskClient, path: str) -> TestResponse:
    """Open an opt-in link and press its confirm button."""
    return client.post(path, data={"csrf_token": csrf_token(client, path)})


def test_page_needs_sign_in(client: FlaskClient) -> None:
    response = client.get("/account/preferences")
    assert response.status_code == 302
    assert "/account/login" in response.headers["Location"]


def test_page_shows_transactional_as_always_sent(client: FlaskClient, session: Session) -> None:
    _member(client, session, "ann@example.com", "Ann")
    page = client.get("/account/preferences").get_data(as_text=True)
    assert "always sent" in page
    assert 'data-testid="transactional"' in page
    for topic in ("weekly_deals", "recommendations", "tier_news"):
        assert f'data-testid="topic-{topic}" data-status="off"' in page


def test_double_opt_in_through_the_outbox_link(client: FlaskClient, session: Session) -> None:
    ann = _member(client, session, "ann@example.com", "Ann")
    assert _save_topics(client, "weekly_deals") == 302
    assert _status(session, ann, "weekly_deals") == "pending"
    assert _consents(session, ann) == []  # nothing granted until the link is followed
    [optin] = _emails(session, "marketing_optin")
    assert optin.to_address == "ann@example.com"
    path = _path(CONFIRM_RE, optin.text_body)
    assert path in optin.html_body
    assert optin.text_body.endswith("account.\nHearth & Parcel: http://127.0.0.1:5000/")
    token = path.rsplit("/", 1)[1]
    row = session.scalar(
        select(CommunicationPreference).where(CommunicationPreference.user_id == ann)
    )
    assert row is not None
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in (row.token_hash or "")
    page = client.get("/account/preferences").get_data(as_text=True)
    assert 'data-status="pending"' in page and "check your inbox" in page
    # Ticking it again while pending sends no second e-mail.
    assert _save_topics(client, "weekly_deals") == 302
    assert len(_emails(session, "marketing_optin")) == 1

    # Opening the link (as a mail scanner would) only asks; the button confirms.
    asked = client.get(path)
    assert asked.status_code == 200 and "Confirm your subscription" in asked.get_data(True)
    assert _status(session, ann, "weekly_deals") == "pending"
    confirmed = _confirm(client, path)
    assert confirmed.status_code == 200
    assert "You're subscribed" in confirmed.get_data(as_text=True)
    assert _status(session, ann, "weekly_deals") == "on"
    assert _consents(session, ann) == [("marketing:weekly_deals", True)]
    [welcome] = _emails(session, "marketing_subscribed")
    assert welcome.to_address == "ann@example.com"
    # The header's link is the body's, on the shop's configured address (https in
    # production, which one-click needs; the tests' base URL is the dev server's).
    header = welcome.headers["List-Unsubscribe"]
    assert re.fullmatch(r"<http://127\.0\.0\.1:5000/preferences/unsubscribe/[^>]+>", header)
    assert header[1:-1] in welcome.text_body
    assert welcome.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    # The link works once: a second use is a clear 410 and changes nothing.
    assert _confirm(client, path).status_code == 410
    again = client.get(path)
    assert again.status_code == 410
    text = again.get_data(as_text=True)
    assert "already been used" in text
    assert "ann@example.com" not in text and "Ann" not in text
    assert _consents(session, ann) == [("marketing:weekly_deals", True)]
    assert len(_emails(session, "marketing_subscribed")) == 1


def test_a_link_for_a_topic_unticked_before_confirming_says_so(
    client: FlaskClient, session: Session
) -> None:
    ann = _member(client, session, "ann@example.com", "Ann")
    _save_topics(client, "recommendations")
    path = _path(CONFIRM_RE, _emails(session, "marketing_optin")[0].text_body)
    _save_topics(client)
    response = client.get(path)
    assert response.status_code == 410
    text = response.get_data(as_text=True)
    assert "the topic was unticked, or the" in text and "already been used" not in text
    assert _status(session, ann, "recommendations") == "off"


def test_a_link_replaced_by_a_newer_one_says_so_and_the_newer_one_works(
    client: FlaskClient, session: Session
) -> None:
    ann = _member(client, session, "ann@example.com", "Ann")
    _save_topics(client, "recommendations")
    first = _path(CONFIRM_RE, _emails(session, "marketing_optin")[0].text_body)
    _save_topics(client)  # unticked, then ticked again: a new link replaces the first
    _save_topics(client, "recommendations")
    second = _path(CONFIRM_RE, _emails(session, "marketing_optin")[1].text_body)
    response = client.get(first)
    assert response.status_code == 410
    text = response.get_data(as_text=True)
    assert "replaced by a newer one we sent you" in text and "copied all of it" not in text
    assert _confirm(client, first).status_code == 410
    assert _status(session, ann, "recommendations") == "pending"
    assert _confirm(client, second).status_code == 200
    assert _status(session, ann, "recommendations") == "on"


def test_unknown_confirmation_link_is_400_and_anonymous(client: FlaskClient) -> None:
    response = client.get("/preferences/confirm/" + "x" * 43)
    assert response.status_code == 400
    assert "not valid" in response.get_data(as_text=True)
    assert client.get("/preferences/confirm/" + "y" * 300).status_code == 400


def test_expired_confirmation_link_is_410_and_changes_nothing(
    client: FlaskClient, session: Session
) -> None:
    ann = _member(client, session, "ann@example.com", "Ann")
    _save_topics(client, "recommendations")
    path = _path(CONFIRM_RE, _emails(session, "marketing_optin")[0].text_body)
    row = session.scalar(
        select(CommunicationPreference).where(CommunicationPreference.user_id == ann)
    )
    assert row is not None and row.requested_at is not None
    row.requested_at -= timedelta(days=8)
    session.commit()
    response = client.get(path)
    assert response.status_code == 410
    assert "expired" in response.get_data(as_text=True)
    assert _status(session, ann, "recommendations") == "pending"
    assert _consents(session, ann) == []

    # As the page says: ticking the topic again sends a new link, and that one works.
    _save_topics(client, "recommendations")
    mails = _emails(session, "marketing_optin")
    assert len(mails) == 2
    fresh = _path(CONFIRM_RE, mails[1].text_body)
    assert fresh != path
    assert _confirm(client, fresh).status_code == 200
    assert _status(session, ann, "recommendations") == "on"


def test_the_page_says_when_the_confirmation_link_has_expired(
    client: FlaskClient, session: Session
) -> None:
    """A topic whose link has expired is still pending, but "check your inbox" would send
    the member to a dead link: the page says it expired and how to get a new one."""
    ann = _member(client, session, "ann@example.com", "Ann")
    _save_topics(client, "recommendations", "tier_news")
    page = client.get("/account/preferences").get_data(as_text=True)
    assert page.count("check your inbox") == 2
    row = session.scalar(
        select(CommunicationPreference).where(
            CommunicationPreference.user_id == ann,
            CommunicationPreference.topic == "recommendations",
        )
    )
    assert row is not None and row.requested_at is not None
    row.requested_at -= timedelta(days=8)
    session.commit()

    page = client.get("/account/preferences").get_data(as_text=True)
    recommendations = page[page.index('data-testid="topic-recommendations"') :]
    recommendations = recommendations[: recommendations.index("</div>")]
    assert "check your inbox" not in recommendations
    assert "link we sent has expired" in recommendations
    assert "checked" in recommendations  # saving with it ticked sends a new link
    assert page.count("check your inbox") == 1  # tier news' link still works
    # The expired link's page tells the member what the preferences page offers.
    link = _path(CONFIRM_RE, _emails(session, "marketing_optin")[0].text_body)
    message = client.get(link).get_data(as_text=True)
    assert "save your choices with it ticked" in message


def test_reused_link_after_opting_out_does_not_resubscribe(
    client: FlaskClient, session: Session
) -> None:
    ann = _member(client, session, "ann@example.com", "Ann")
    _save_topics(client, "tier_news")
    path = _path(CONFIRM_RE, _emails(session, "marketing_optin")[0].text_body)
    assert _confirm(client, path).status_code == 200
    assert _save_topics(client) == 302  # untick everything: off at once
    assert _status(session, ann, "tier_news") == "off"
    assert _consents(session, ann) == [
        ("marketing:tier_news", True),
        ("marketing:tier_news", False),
    ]
    assert client.get(path).status_code == 410
    assert _status(session, ann, "tier_news") == "off"


def test_nothing_marketing_is_sent_while_pending(client: FlaskClient, session: Session) -> None:
    ann = _member(client, session, "ann@example.com", "Ann")
    _save_topics(client, "weekly_deals", "recommendations", "tier_news")
    for topic in ("weekly_deals", "recommendations", "tier_news"):
        assert _status(session, ann, topic) == "pending"
    kinds = {e.kind for e in _emails(session, "marketing_optin")}
    assert kinds == {"marketing_optin"}
    assert len(_emails(session, "marketing_optin")) == 3
    assert _emails(session, "marketing_subscribed") == []


def _subscribed(client: FlaskClient, session: Session, topic: str = "weekly_deals") -> int:
    ann = _member(client, session, "ann@example.com", "Ann")
    _save_topics(client, topic)
    _confirm(client, _path(CONFIRM_RE, _emails(session, "marketing_optin")[-1].text_body))
    assert _status(session, ann, topic) == "on"
    return ann


def test_unsubscribe_link_asks_then_unsubscribes(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    ann = _subscribed(client, session)
    path = _path(UNSUB_RE, _emails(session, "marketing_subscribed")[0].text_body)
    with app.app_context():  # this week's deals, still queued (the relay is down, say)
        queued = enqueue_email(
            db.session,
            kind="weekly_deals",
            to="ann@example.com",
            subject="Deals",
            template="marketing_subscribed",
            context={"name": "Ann"},
            user_id=ann,
        )
        other = enqueue_email(
            db.session,
            kind="personal_picks",
            to="ann@example.com",
            subject="Picks",
            template="marketing_subscribed",
            context={"name": "Ann"},
            user_id=ann,
        )
        db.session.flush()
        queued_id, other_id = queued.id, other.id
        db.session.commit()
    visitor = app.test_client()  # the link works without signing in
    asked = visitor.get(path)
    assert asked.status_code == 200
    text = asked.get_data(as_text=True)
    assert "Stop receiving weekly deals" in text
    assert "ann@example.com" not in text
    assert _status(session, ann, "weekly_deals") == "on"  # a GET changes nothing
    done = visitor.post(path)  # the page's button: no CSRF token needed
    assert done.status_code == 200
    assert "You're unsubscribed" in done.get_data(as_text=True)
    assert _status(session, ann, "weekly_deals") == "off"
    assert _consents(session, ann)[-1] == ("marketing:weekly_deals", False)
    assert session.get(OutboxEmail, queued_id).status == "withdrawn"  # type: ignore[union-attr]
    assert session.get(OutboxEmail, other_id).status == "pending"  # type: ignore[union-attr]


def test_rfc8058_one_click_post(app: Flask, client: FlaskClient, session: Session) -> None:
    ann = _subscribed(client, session)
    welcome = _emails(session, "marketing_subscribed")[0]
    header = welcome.headers["List-Unsubscribe"]
    path = re.search(r"<https?://[^/>]+(/[^>]+)>", header).group(1)  # type: ignore[union-attr]
    mail_client = app.test_client()
    response = mail_client.post(
        path,
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert _status(session, ann, "weekly_deals") == "off"
    # A second one-click POST is harmless.
    assert mail_client.post(path, data="List-Unsubscribe=One-Click").status_code == 200


def test_tampered_and_unknown_unsubscribe_links_leak_nothing(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    ann = _subscribed(client, session)
    real = unsubscribe_token(SECRET, ann, "weekly_deals")
    tampered = real[:-3] + ("AAA" if not real.endswith("AAA") else "BBB")
    forged = unsubscribe_token("another-secret", ann, "weekly_deals")
    visitor = app.test_client()
    for token in (tampered, forged, "nonsense", "x" * 500, real.replace(".", "")):
        for method in (visitor.get, visitor.post):
            response = method(f"/preferences/unsubscribe/{token}")
            assert response.status_code == 400, token
            text = response.get_data(as_text=True)
            assert "This unsubscribe link is not valid" in text
            assert "ann@example.com" not in text
    assert _status(session, ann, "weekly_deals") == "on"

    # A well-signed link for an account that does not exist reads exactly like a real one.
    ghost = unsubscribe_token(SECRET, 999_999, "weekly_deals")
    other = unsubscribe_token(SECRET, ann, "weekly_deals")
    for method in ("get", "post"):
        ghost_page = getattr(visitor, method)(f"/preferences/unsubscribe/{ghost}")
        real_page = getattr(visitor, method)(f"/preferences/unsubscribe/{other}")
        assert ghost_page.status_code == real_page.status_code == 200
        assert unsigned(ghost_page.get_data(as_text=True).replace(ghost, "")) == unsigned(
            real_page.get_data(as_text=True).replace(other, "")
        )


def test_favourite_categories_are_saved(client: FlaskClient, session: Session) -> None:
    candles = factories.category(session, "candles", "Candles")
    bags = factories.category(session, "bags", "Bags")
    cards = factories.category(session, "cards", "Cards")
    ids = (candles.id, bags.id, cards.id)
    session.commit()
    ann = _member(client, session, "ann@example.com", "Ann")
    page = client.get("/account/preferences").get_data(as_text=True)
    assert "Candles" in page and "Bags" in page
    token = csrf_token(client, "/account/preferences")
    response = client.post(
        "/account/preferences/favourites",
        data={"csrf_token": token, "categories": [str(ids[0]), str(ids[1])]},
    )
    assert response.status_code == 302
    session.rollback()
    assert favourite_category_ids(session, ann) == frozenset({ids[0], ids[1]})
    page = client.get("/account/preferences").get_data(as_text=True)
    assert re.search(rf'value="{ids[0]}"[^>]*checked|checked[^>]*value="{ids[0]}"', page)

    # Change the choice: one removed, one added.
    response = client.post(
        "/account/preferences/favourites",
        data={"csrf_token": token, "categories": [str(ids[1]), str(ids[2])]},
    )
    assert response.status_code == 302
    session.rollback()
    assert favourite_category_ids(session, ann) == frozenset({ids[1], ids[2]})
    assert favourite_category_ids(session, None) == frozenset()

    # An unknown category is a clear 400 and keeps the old choice.
    bad = client.post(
        "/account/preferences/favourites",
        data={"csrf_token": token, "categories": ["999999"]},
    )
    assert bad.status_code == 400
    assert "Please choose categories from the list" in bad.get_data(as_text=True)
    bad = client.post(
        "/account/preferences/favourites", data={"csrf_token": token, "categories": ["abc"]}
    )
    assert bad.status_code == 400
    session.rollback()
    assert favourite_category_ids(session, ann) == frozenset({ids[1], ids[2]})

    # No box ticked clears them.
    assert (
        client.post("/account/preferences/favourites", data={"csrf_token": token}).status_code
        == 302
    )
    session.rollback()
    assert favourite_category_ids(session, ann) == frozenset()
    # Each change was confirmed by e-mail; the refused ones changed nothing and sent nothing.
    notices = [m.text_body for m in _emails(session, "account_profile_changed")]
    assert len(notices) == 3 and all("Your favourite categories changed." in n for n in notices)


def test_weekly_deals_and_tier_news_say_they_go_to_members_only(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    ann = _member(client, session, "ann@example.com", "Ann")
    page = client.get("/account/preferences").get_data(as_text=True)
    assert 'data-testid="members-only-weekly_deals"' in page
    assert 'data-testid="members-only-tier_news"' in page
    assert 'data-testid="members-only-recommendations"' not in page  # for every customer
    with app.app_context(), db.transaction() as own:
        tiers.ensure_default_tiers(own)
        membership.join(own, ann, consent=True)
    page = client.get("/account/preferences").get_data(as_text=True)
    assert "members-only-weekly_deals" not in page and "members-only-tier_news" not in page


def test_switching_a_topic_off_on_the_page_is_confirmed_by_e_mail(
    client: FlaskClient, session: Session
) -> None:
    _subscribed(client, session, "weekly_deals")
    assert _save_topics(client) == 302
    [notice] = _emails(session, "account_profile_changed")
    assert "You will no longer get weekly deals e-mails." in notice.text_body


def test_only_topics_that_were_on_are_named_in_the_confirmation(
    client: FlaskClient, session: Session
) -> None:
    ann = _subscribed(client, session, "weekly_deals")
    _save_topics(client, "weekly_deals", "tier_news")
    _confirm(client, _path(CONFIRM_RE, _emails(session, "marketing_optin")[-1].text_body))
    _save_topics(client, "weekly_deals", "tier_news", "recommendations")  # left pending
    assert [_status(session, ann, t) for t in ("weekly_deals", "tier_news", "recommendations")] == [
        "on",
        "on",
        "pending",
    ]

    assert _save_topics(client) == 302  # everything unticked

    [notice] = _emails(session, "account_profile_changed")
    body = " ".join(notice.text_body.split())
    assert (
        'You will no longer get these e-mails: "Weekly deals" and "Tier news and member offers".'
        in body
    )
    assert "ersonal recommendations" not in body  # it was never confirmed
    assert _status(session, ann, "recommendations") == "off"

    # Cancelling only a request that was never confirmed sends no e-mail at all.
    _save_topics(client, "recommendations")
    _save_topics(client)
    assert len(_emails(session, "account_profile_changed")) == 1


def test_member_cannot_change_another_members_preferences(app: Flask, session: Session) -> None:
    cat = factories.category(session, "candles", "Candles")
    cat_id = cat.id
    session.commit()
    ann_client = app.test_client()
    ann = _member(ann_client, session, "ann@example.com", "Ann")
    _save_topics(ann_client, "weekly_deals")
    _confirm(ann_client, _path(CONFIRM_RE, _emails(session, "marketing_optin")[0].text_body))
    assert _status(session, ann, "weekly_deals") == "on"

    bob_client = app.test_client()
    bob = _member(bob_client, session, "bob@example.com", "Bob")
    token = csrf_token(bob_client, "/account/preferences")
    # Bob posts with Ann's id in every shape he can think of: only his own account changes.
    for extra in ({"user_id": str(ann)}, {"user": str(ann)}, {"id": str(ann)}):
        bob_client.post("/account/preferences", data={"csrf_token": token, **extra})
        bob_client.post(
            f"/account/preferences?user_id={ann}",
            data={"csrf_token": token, "tier_news": "y", **extra},
        )
        bob_client.post(
            "/account/preferences/favourites",
            data={"csrf_token": token, "categories": [str(cat_id)], **extra},
        )
    assert _status(session, ann, "weekly_deals") == "on"
    assert _status(session, ann, "tier_news") == "off"
    assert _status(session, bob, "tier_news") == "pending"
    assert favourite_category_ids(session, ann) == frozenset()
    assert favourite_category_ids(session, bob) == frozenset({cat_id})
    # Bob's page shows his own choices, not Ann's.
    page = bob_client.get("/account/preferences").get_data(as_text=True)
    assert 'data-testid="topic-weekly_deals" data-status="off"' in page
    assert session.scalar(select(func.count()).select_from(FavouriteCategory)) == 1
    # And only Bob was e-mailed about his opt-in.
    to = [e.to_address for e in _emails(session, "marketing_optin")]
    assert to[0] == "ann@example.com"
    assert set(to[1:]) == {"bob@example.com"}
    session.rollback()
    assert session.get(User, ann) is not None


def test_an_opt_in_link_sent_to_an_old_address_stops_working_when_the_address_changes(
    client: FlaskClient, session: Session
) -> None:
    ann = _member(client, session, "ann@example.com", "Ann")
    assert _save_topics(client, "weekly_deals", "tier_news") == 302
    old_links = [_path(CONFIRM_RE, mail.text_body) for mail in _emails(session, "marketing_optin")]
    assert len(old_links) == 2

    token = csrf_token(client, "/account/email")
    data = {"csrf_token": token, "new_email": "ann.new@example.com"}
    client.post("/account/email", data={**data, "current_password": factories.PASSWORD})
    [confirm] = _emails(session, "account_email_confirm")
    change = re.search(
        r"https?://[^/\s]+(/account/email/confirm/[A-Za-z0-9_.-]+)", confirm.text_body
    )
    assert change
    assert (
        client.post(change.group(1), data={"csrf_token": csrf_token(client, "/")}).status_code
        == 302
    )

    for path in old_links:  # whoever reads the old mailbox cannot consent for Ann
        response = _confirm(client, path)
        assert response.status_code == 410
        assert "e-mail address changed, before it was confirmed" in response.get_data(True)
    assert _status(session, ann, "weekly_deals") == "off"
    assert _status(session, ann, "tier_news") == "off"
    assert _consents(session, ann) == []
    # Ticking it again sends a link to the new address.
    assert _save_topics(client, "weekly_deals") == 302
    assert _emails(session, "marketing_optin")[-1].to_address == "ann.new@example.com"
    new_link = _path(CONFIRM_RE, _emails(session, "marketing_optin")[-1].text_body)

    # The old address's owner takes the account back with the undo link: the link just sent
    # to the new address cannot consent for them either.
    [told] = _emails(session, "account_email_changed")
    undo = re.search(r"https?://[^/\s]+(/account/email/undo/[A-Za-z0-9_.-]+)", told.text_body)
    assert undo
    stranger = client.application.test_client()
    token = csrf_token(stranger, undo.group(1))
    assert stranger.post(undo.group(1), data={"csrf_token": token}).status_code == 302
    response = _confirm(stranger, new_link)
    assert response.status_code == 410
    assert _status(session, ann, "weekly_deals") == "off"
    assert _consents(session, ann) == []
