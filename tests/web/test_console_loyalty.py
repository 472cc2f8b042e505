"""Console loyalty pages: tiers listed, edited and added with validation (overlapping or
non-increasing thresholds are clear form errors), programme settings, audit, admin only."""

from __future__ import annotations

import html
import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from loyalty import tiers
from loyalty.models import Membership, Tier
from loyalty.settings import load_settings
from shop.console.models import AuditEntry
from tests import factories
from tests.console_support import client_as, console_token
from tests.helpers import csrf_token, sign_in
from tests.web.page_forms import read_form

TIER_FIELDS = {
    "name": "Silver",
    "rank": "2",
    "threshold": "100.00",
    "discount": "3",
    "multiplier": "1.25",
}
SETTINGS = {
    "points_per_pound": "2",
    "point_value_pence": "1",
    "min_redeem_points": "500",
    "max_redeem_points": "20000",
    "max_redeem_share_pct": "50",
    "expiry_months": "18",
    "expiry_reminder_days": "30",
    "tier_basis": "spend",
    "downgrade_grace_days": "45",
    "early_access_hours": "48",
    "terms_version": "2026-12",
}


def _with_tiers(session: Session) -> dict[str, int]:
    created = tiers.ensure_default_tiers(session)  # £0 / £100 / £500 / £1,500
    session.commit()
    return {t.name: t.id for t in created}


def _post(client: FlaskClient, url: str, data: dict[str, Any]) -> Any:
    """Post a form, saying what its page shows now as `opened` unless `data` says it."""
    token = console_token(client, "/console/loyalty/")
    if "opened" not in data and not url.endswith("/new"):
        page = "/console/loyalty/" if url.endswith("/settings") else url
        data = {**data, "opened": _opened(client.get(page).get_data(as_text=True))}
    return client.post(url, data={"csrf_token": token, **data})


def test_admins_see_the_tiers(app: Flask, session: Session) -> None:
    _with_tiers(session)
    admin = client_as(app, session, "admin")
    page = admin.get("/console/loyalty/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for name, threshold in (("Silver", "£100.00"), ("Gold", "£500.00"), ("Platinum", "£1,500.00")):
        assert name in html and threshold in html
    assert 'data-testid="programme-form"' in html


def test_merchandisers_and_shoppers_get_404(app: Flask, session: Session) -> None:
    ids = _with_tiers(session)
    for role in ("merchandiser", "shopper"):
        client = client_as(app, session, role)
        assert client.get("/console/loyalty/").status_code == 404
        assert client.get(f"/console/loyalty/tiers/{ids['Gold']}").status_code == 404
        response = _post_any(client, f"/console/loyalty/tiers/{ids['Gold']}", TIER_FIELDS)
        assert response.status_code == 404
    session.rollback()
    assert session.scalar(select(AuditEntry).where(AuditEntry.action.like("loyalty.%"))) is None


def _post_any(client: FlaskClient, url: str, data: dict[str, Any]) -> Any:
    return client.post(url, data={"csrf_token": csrf_token(client, "/"), **data})


def test_edit_a_tier_is_saved_and_audited(app: Flask, session: Session) -> None:
    ids = _with_tiers(session)
    admin = client_as(app, session, "admin")
    form = admin.get(f"/console/loyalty/tiers/{ids['Gold']}").get_data(as_text=True)
    assert 'value="500.00"' in form and 'value="1.5"' in form
    data = {
        "name": "Gold",
        "rank": "3",
        "threshold": "750",
        "discount": "6.5",
        "multiplier": "1.75",
        "free_shipping": "y",
        "early_access": "y",
    }
    response = _post(admin, f"/console/loyalty/tiers/{ids['Gold']}", data)
    assert response.status_code == 302, response.get_data(as_text=True)
    session.rollback()
    gold = session.get(Tier, ids["Gold"])
    assert gold is not None
    assert (gold.threshold, gold.discount_bp, gold.multiplier_pct) == (75_000, 650, 175)
    assert gold.free_shipping and gold.early_access and not gold.priority_support
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "loyalty.tier.update"))
    assert entry is not None and entry.actor_email == "admin@example.com"
    assert entry.before["threshold"] == 50_000 and entry.after["threshold"] == 75_000


def test_overlapping_thresholds_are_a_clear_form_error(app: Flask, session: Session) -> None:
    ids = _with_tiers(session)
    admin = client_as(app, session, "admin")
    data = {**TIER_FIELDS, "name": "Gold", "rank": "3", "threshold": "50"}  # below Silver
    response = _post(admin, f"/console/loyalty/tiers/{ids['Gold']}", data)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Thresholds overlap" in html and "Gold" in html
    session.rollback()
    gold = session.get(Tier, ids["Gold"])
    assert gold is not None and gold.threshold == 50_000
    audit = session.scalar(select(AuditEntry).where(AuditEntry.action.like("loyalty.%")))
    assert audit is None


def test_a_duplicate_threshold_or_name_is_refused(app: Flask, session: Session) -> None:
    _with_tiers(session)
    admin = client_as(app, session, "admin")
    same_threshold = {**TIER_FIELDS, "name": "Bronze", "rank": "5", "threshold": "1500"}
    response = _post(admin, "/console/loyalty/tiers/new", same_threshold)
    assert response.status_code == 400
    assert "Thresholds overlap" in response.get_data(as_text=True)
    same_name = {**TIER_FIELDS, "name": "gold", "rank": "5", "threshold": "3000"}
    response = _post(admin, "/console/loyalty/tiers/new", same_name)
    assert response.status_code == 400
    assert "unique" in response.get_data(as_text=True)


def test_add_a_tier(app: Flask, session: Session) -> None:
    _with_tiers(session)
    admin = client_as(app, session, "admin")
    data = {**TIER_FIELDS, "name": "Diamond", "rank": "5", "threshold": "5,000"}
    response = _post(admin, "/console/loyalty/tiers/new", {**data, "priority_support": "y"})
    assert response.status_code == 302
    session.rollback()
    diamond = session.scalar(select(Tier).where(Tier.name == "Diamond"))
    assert diamond is not None and diamond.threshold == 500_000 and diamond.priority_support
    assert session.scalar(select(AuditEntry).where(AuditEntry.action == "loyalty.tier.create"))


def test_bad_numbers_are_form_errors(app: Flask, session: Session) -> None:
    ids = _with_tiers(session)
    admin = client_as(app, session, "admin")
    url = f"/console/loyalty/tiers/{ids['Silver']}"
    cases = [
        ({"threshold": "-5"}, "from £0"),
        ({"threshold": "1.234"}, "decimal places"),
        ({"threshold": "lots"}, "as a number"),
        ({"discount": "75"}, "0% to 50%"),
        ({"multiplier": "0.5"}, "from 1 to 10"),
        ({"rank": "1.5"}, "Rank"),
        ({"name": ""}, "Enter a name"),
        ({"threshold": "1E+999999"}, "far too large for the threshold"),
        ({"discount": "1E+999999"}, "far too large for the discount"),
        ({"multiplier": "99999999999"}, "far too large for the multiplier"),
        ({"multiplier": "999999999"}, "from 1 to 10"),
        ({"threshold": "sNaN"}, "as a number"),
        ({"threshold": "1_000"}, "as a number"),  # Decimal() would read a thousand
        ({"threshold": "\uff11\uff12\uff13"}, "as a number"),
        ({"discount": "\u0665"}, "as a number"),
        ({"rank": "1_0"}, "Not a valid integer"),
    ]
    for change, message in cases:
        response = _post(admin, url, {**TIER_FIELDS, **change})
        assert response.status_code == 400, change
        assert message in response.get_data(as_text=True), change


def test_the_first_tier_must_start_at_zero(app: Flask, session: Session) -> None:
    ids = _with_tiers(session)
    admin = client_as(app, session, "admin")
    data = {**TIER_FIELDS, "name": "Member", "rank": "1", "threshold": "10"}
    response = _post(admin, f"/console/loyalty/tiers/{ids['Member']}", data)
    assert response.status_code == 400
    assert "threshold of 0" in response.get_data(as_text=True)


def test_an_unknown_tier_is_404(app: Flask, session: Session) -> None:
    _with_tiers(session)
    admin = client_as(app, session, "admin")
    assert admin.get("/console/loyalty/tiers/999").status_code == 404


def test_programme_settings_are_saved_and_audited(app: Flask, session: Session) -> None:
    admin = client_as(app, session, "admin")
    response = _post(admin, "/console/loyalty/settings", SETTINGS)
    assert response.status_code == 302
    session.rollback()
    settings = load_settings(session)
    assert (settings.points_per_pound, settings.expiry_months) == (2, 18)
    assert (settings.downgrade_grace_days, settings.terms_version) == (45, "2026-12")
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "loyalty.settings.update"))
    assert entry is not None
    assert entry.after == {
        "points_per_pound": 2,
        "expiry_months": 18,
        "downgrade_grace_days": 45,
        "terms_version": "2026-12",
    }


def test_bad_programme_settings_are_form_errors(app: Flask, session: Session) -> None:
    admin = client_as(app, session, "admin")
    for change, message in (
        ({"points_per_pound": "-1"}, "from 1 to 100"),
        ({"expiry_months": "1.5"}, "Not a valid integer"),
        ({"min_redeem_points": "900", "max_redeem_points": "800"}, "at least the fewest"),
        ({"tier_basis": "vibes"}, "Not a valid choice"),
        ({"terms_version": "v 1!"}, "letters, digits, dots, dashes and underscores only"),
        (
            {"expiry_months": "1", "expiry_reminder_days": "365"},
            "expire after 1 month need a reminder fewer than 28 days before",
        ),
        ({"expiry_months": "2", "expiry_reminder_days": "56"}, "fewer than 56 days"),
    ):
        response = _post(admin, "/console/loyalty/settings", {**SETTINGS, **change})
        assert response.status_code == 400, change
        assert message in response.get_data(as_text=True), change
    session.rollback()
    assert load_settings(session).points_per_pound == 1


def _second_browser(app: Flask, session: Session) -> FlaskClient:
    """The same admin in another browser (or another admin: the check is the same)."""
    client = app.test_client()
    sign_in(client, "admin@example.com", factories.PASSWORD)
    session.rollback()
    return client


def _opened(page: str) -> str:
    match = re.search(r'name="opened" type="hidden" value="([^"]*)"', page)
    assert match, "no opened field"
    return html.unescape(match.group(1))


def _gold_form(ids: dict[str, int], **changes: str) -> dict[str, str]:
    return {
        "name": "Gold",
        "rank": "3",
        "threshold": "500.00",
        "discount": "5",
        "multiplier": "1.5",
        "free_shipping": "y",
        **changes,
    }


def test_a_tier_saved_by_another_admin_after_the_form_was_opened_is_not_overwritten(
    app: Flask, session: Session
) -> None:
    ids = _with_tiers(session)
    url = f"/console/loyalty/tiers/{ids['Gold']}"
    first, second = client_as(app, session, "admin"), _second_browser(app, session)
    first_opened = _opened(first.get(url).get_data(as_text=True))
    gold = session.get(Tier, ids["Gold"])
    assert gold is not None
    form = _gold_form(ids, discount=str(gold.discount_bp / 100), multiplier="1.5")
    second_opened = _opened(second.get(url).get_data(as_text=True))
    assert (
        _post(second, url, {**form, "multiplier": "3", "opened": second_opened}).status_code == 302
    )
    stale = _post(first, url, {**form, "discount": "10", "opened": first_opened})
    assert stale.status_code == 409
    page = stale.get_data(as_text=True)
    assert "Another admin saved this tier after you opened this page" in page
    assert 'value="3"' in page  # the form now shows the tier as saved
    session.rollback()
    gold = session.get(Tier, ids["Gold"])
    assert gold is not None and gold.multiplier_pct == 300
    assert gold.discount_bp == int(float(form["discount"]) * 100)
    updates = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "loyalty.tier.update")
    ).all()
    assert len(updates) == 1


def test_saving_a_tier_unchanged_writes_nothing(app: Flask, session: Session) -> None:
    ids = _with_tiers(session)
    url = f"/console/loyalty/tiers/{ids['Silver']}"
    admin = client_as(app, session, "admin")
    opened = _opened(admin.get(url).get_data(as_text=True))
    silver = session.get(Tier, ids["Silver"])
    assert silver is not None
    data = {
        "name": "Silver",
        "rank": str(silver.rank),
        "threshold": f"{silver.threshold / 100:.2f}",
        "discount": f"{silver.discount_bp / 100:g}",
        "multiplier": f"{silver.multiplier_pct / 100:g}",
        "opened": opened,
        **{
            flag: "y"
            for flag in ("free_shipping", "priority_support", "early_access")
            if getattr(silver, flag)
        },
    }
    response = _post(admin, url, data)
    assert response.status_code == 302
    assert "Nothing changed." in admin.get("/console/loyalty/").get_data(as_text=True)
    session.rollback()
    assert session.scalar(select(AuditEntry).where(AuditEntry.action.like("loyalty.%"))) is None


def test_programme_settings_saved_by_another_admin_meanwhile_are_not_overwritten(
    app: Flask, session: Session
) -> None:
    first, second = client_as(app, session, "admin"), _second_browser(app, session)
    first_opened = _opened(first.get("/console/loyalty/").get_data(as_text=True))
    second_opened = _opened(second.get("/console/loyalty/").get_data(as_text=True))
    saved = _post(second, "/console/loyalty/settings", {**SETTINGS, "opened": second_opened})
    assert saved.status_code == 302
    stale = _post(
        first,
        "/console/loyalty/settings",
        {**SETTINGS, "points_per_pound": "1", "expiry_months": "36", "opened": first_opened},
    )
    assert stale.status_code == 409
    assert "<li>Another admin saved the programme settings" in stale.get_data(as_text=True)
    session.rollback()
    settings = load_settings(session)
    assert (settings.points_per_pound, settings.expiry_months) == (2, 18)


def test_a_garbled_opened_field_asks_for_a_reload(app: Flask, session: Session) -> None:
    ids = _with_tiers(session)
    admin = client_as(app, session, "admin")
    for url, data in (
        (f"/console/loyalty/tiers/{ids['Gold']}", _gold_form(ids)),
        ("/console/loyalty/settings", SETTINGS),
    ):
        for opened in ("{", "[]", '{"name": "Gold"}'):
            response = _post(admin, url, {**data, "opened": opened})
            assert response.status_code == 400, (url, opened)
            assert "This form is out of date; open the page again." in response.get_data(
                as_text=True
            )
    session.rollback()
    assert session.scalar(select(AuditEntry).where(AuditEntry.action.like("loyalty.%"))) is None


def test_every_member_is_told_what_a_programme_change_means_for_them(
    app: Flask, session: Session
) -> None:
    from shop.mail.models import OutboxEmail

    factories.member(session, "mia@example.com")
    factories.member(session, "leo@example.com")
    gone = factories.member(session, "gone@example.com")
    gone_id = gone.id
    session.execute(update(Membership).where(Membership.user_id == gone_id).values(status="closed"))
    session.commit()
    admin = client_as(app, session, "admin")
    review = _post(admin, "/console/loyalty/settings", SETTINGS)
    assert review.status_code == 200
    shown = review.get_data(as_text=True)
    assert "What 2 members will be told by e-mail" in shown
    assert "because the programme terms promise notice of changes" in shown
    assert (
        "<li>You earn 2 points per £1 spent, before your tier&#39;s multiplier (was 1).</li>"
        in (shown)
    )
    assert "Save and e-mail 2 members" in shown
    carried = read_form(shown).values
    assert (carried["points_per_pound"], carried["terms_version"]) == ("2", "2026-12")
    session.rollback()
    assert load_settings(session).points_per_pound == 1  # nothing saved before the confirmation
    assert session.scalar(select(OutboxEmail)) is None
    response = admin.post("/console/loyalty/settings", data={**carried, "confirm": "1"})
    assert response.status_code == 302
    page = admin.get("/console/loyalty/").get_data(as_text=True)
    assert "Programme settings saved. 2 members told by e-mail." in page
    session.rollback()
    mails = session.scalars(
        select(OutboxEmail).where(OutboxEmail.kind == "loyalty_programme_changed")
    ).all()
    assert sorted(m.to_address for m in mails) == ["leo@example.com", "mia@example.com"]
    text = mails[0].text_body
    assert "You earn 2 points per £1 spent, before your tier's multiplier (was 1)." in text
    assert "Points expire 18 months after you earn them (was 24)." in text
    assert "you keep the tier for 45 days (was 30)." in text
    assert "The programme terms are now version 2026-12 (was 2026-11)." in text
    assert "/account/loyalty#terms" in text
    assert "earn 2 points per £1" in mails[0].html_body
    # Saving the same settings again tells nobody anything.
    assert _post(admin, "/console/loyalty/settings", SETTINGS).status_code == 302
    session.rollback()
    assert len(session.scalars(select(OutboxEmail)).all()) == 2
    # The member page shows the terms the e-mail links to, and which version they joined.
    member = app.test_client()
    sign_in(member, "mia@example.com", factories.PASSWORD)
    own = member.get("/account/loyalty").get_data(as_text=True)
    assert (
        'id="terms"' in own and "Programme terms (version 2026-12; you joined under 2026-11)" in own
    )


def test_a_programme_change_members_agreed_to_needs_a_new_terms_version(
    app: Flask, session: Session
) -> None:
    factories.member(session, "mia@example.com")
    session.commit()
    admin = client_as(app, session, "admin")
    response = _post(admin, "/console/loyalty/settings", {**SETTINGS, "terms_version": "2026-11"})
    assert response.status_code == 400
    form = read_form(response.get_data(as_text=True))
    assert form.errors == [
        "These changes rewrite the programme terms that members agreed to: give the terms a "
        "new version (they are version 2026-11 now)."
    ]
    assert form.values["points_per_pound"] == "2"  # what was typed stays in the form
    session.rollback()
    assert load_settings(session).points_per_pound == 1
    assert _audited(session) == []


def test_a_point_cannot_be_made_worth_less_while_members_hold_points(
    app: Flask, session: Session
) -> None:
    factories.member(session, "mia@example.com", points=919)
    session.commit()
    admin = client_as(app, session, "admin")
    raised = {**SETTINGS, "point_value_pence": "2"}
    review = _post(admin, "/console/loyalty/settings", raised)
    carried = read_form(review.get_data(as_text=True)).values
    assert (
        admin.post("/console/loyalty/settings", data={**carried, "confirm": "1"}).status_code == 302
    )
    lowered = {**SETTINGS, "point_value_pence": "1", "terms_version": "2027-01"}
    response = _post(admin, "/console/loyalty/settings", lowered)
    assert response.status_code == 400
    assert read_form(response.get_data(as_text=True)).errors == [
        "The terms promise members that the points they have earned keep their value, so a "
        "point cannot be worth less than 2p while members hold points."
    ]
    session.rollback()
    assert load_settings(session).point_value_pence == 2
    # Once nobody holds points, it can be lowered.
    session.execute(update(Membership).values(points_balance=0))
    session.commit()
    review = _post(admin, "/console/loyalty/settings", lowered)
    assert review.status_code == 200 and "Each point takes 1p off an order (was 2p)." in (
        review.get_data(as_text=True)
    )


def test_the_review_page_goes_back_to_the_form_as_typed_and_saves_nothing(
    app: Flask, session: Session
) -> None:
    from shop.mail.models import OutboxEmail

    factories.member(session, "mia@example.com")
    session.commit()
    admin = client_as(app, session, "admin")
    review = _post(admin, "/console/loyalty/settings", SETTINGS)
    carried = read_form(review.get_data(as_text=True)).values
    back = admin.post("/console/loyalty/settings", data={**carried, "edit": "1"})
    assert back.status_code == 200
    page = back.get_data(as_text=True)
    assert 'data-testid="programme-form"' in page and "change-review" not in page
    shown = read_form(page).values
    assert (shown["points_per_pound"], shown["expiry_months"]) == ("2", "18")
    assert shown["opened"] == carried["opened"]
    session.rollback()
    assert load_settings(session).points_per_pound == 1
    assert session.scalar(select(OutboxEmail)) is None
    assert _audited(session) == []


def test_a_confirmation_after_another_admin_saved_is_refused(app: Flask, session: Session) -> None:
    from shop.mail.models import OutboxEmail

    factories.member(session, "mia@example.com")
    session.commit()
    first, second = client_as(app, session, "admin"), _second_browser(app, session)
    review = _post(first, "/console/loyalty/settings", SETTINGS)
    carried = read_form(review.get_data(as_text=True)).values
    other = {**SETTINGS, "expiry_months": "36", "terms_version": "2027-01"}
    second_review = _post(second, "/console/loyalty/settings", other)
    second_carried = read_form(second_review.get_data(as_text=True)).values
    assert (
        second.post(
            "/console/loyalty/settings", data={**second_carried, "confirm": "1"}
        ).status_code
        == 302
    )
    stale = first.post("/console/loyalty/settings", data={**carried, "confirm": "1"})
    assert stale.status_code == 409
    assert "Another admin saved the programme settings" in stale.get_data(as_text=True)
    session.rollback()
    settings = load_settings(session)
    assert (settings.expiry_months, settings.terms_version) == (36, "2027-01")
    assert len(session.scalars(select(OutboxEmail)).all()) == 1


def test_a_refused_stale_programme_save_shows_the_saved_settings_and_can_be_resubmitted(
    app: Flask, session: Session
) -> None:
    first, second = client_as(app, session, "admin"), _second_browser(app, session)
    first_opened = _opened(first.get("/console/loyalty/").get_data(as_text=True))
    second_opened = _opened(second.get("/console/loyalty/").get_data(as_text=True))
    saved = _post(second, "/console/loyalty/settings", {**SETTINGS, "opened": second_opened})
    assert saved.status_code == 302

    stale = _post(
        first,
        "/console/loyalty/settings",
        {**SETTINGS, "points_per_pound": "3", "expiry_months": "36", "opened": first_opened},
    )
    assert stale.status_code == 409
    shown = read_form(stale.get_data(as_text=True)).values
    # What the other admin saved, not what this one typed, with what it shows as `opened`.
    assert (shown["points_per_pound"], shown["expiry_months"]) == ("2", "18")
    assert (shown["downgrade_grace_days"], shown["terms_version"]) == ("45", "2026-12")
    current = _opened(first.get("/console/loyalty/").get_data(as_text=True))
    assert shown["opened"] == current != first_opened
    again = first.post("/console/loyalty/settings", data={**shown, "expiry_months": "36"})
    assert again.status_code == 302
    session.rollback()
    settings = load_settings(session)
    assert (settings.points_per_pound, settings.expiry_months) == (2, 36)


def _audited(session: Session) -> list[str]:
    session.rollback()
    query = select(AuditEntry.action).where(AuditEntry.action.like("loyalty.%"))
    return list(session.scalars(query))


def test_a_tier_save_that_does_not_say_what_it_showed_is_refused(
    app: Flask, session: Session
) -> None:
    ids = _with_tiers(session)
    admin = client_as(app, session, "admin")
    url = f"/console/loyalty/tiers/{ids['Gold']}"
    form = read_form(admin.get(url).get_data(as_text=True)).values
    for opened in (None, "", "   "):
        data = {**form, "discount": "9"}
        if opened is None:
            del data["opened"]
        else:
            data["opened"] = opened
        response = admin.post(url, data=data)
        assert response.status_code == 400, repr(opened)
        page = response.get_data(as_text=True)
        assert "open the page again" in page, repr(opened)
        assert 'value="9"' in page  # what they typed stays on the page
    session.rollback()
    gold = session.get(Tier, ids["Gold"])
    assert gold is not None and gold.discount_bp == 500
    assert _audited(session) == []


def test_a_programme_save_that_does_not_say_what_it_showed_is_refused(
    app: Flask, session: Session
) -> None:
    admin = client_as(app, session, "admin")
    form = read_form(admin.get("/console/loyalty/").get_data(as_text=True)).values
    assert "opened" in form
    for opened in (None, "", "   "):
        data = {**form, "points_per_pound": "7"}
        if opened is None:
            del data["opened"]
        else:
            data["opened"] = opened
        response = admin.post("/console/loyalty/settings", data=data)
        assert response.status_code == 400, repr(opened)
        assert "open the page again" in response.get_data(as_text=True), repr(opened)
    session.rollback()
    assert load_settings(session).points_per_pound == 1
    assert _audited(session) == []


def test_a_new_tier_has_nothing_to_compare_and_needs_no_opened_field(
    app: Flask, session: Session
) -> None:
    _with_tiers(session)
    admin = client_as(app, session, "admin")
    form = read_form(admin.get("/console/loyalty/tiers/new").get_data(as_text=True)).values
    assert form.get("opened", "") == ""
    data = {**form, **TIER_FIELDS, "name": "Diamond", "rank": "5", "threshold": "5000"}
    assert admin.post("/console/loyalty/tiers/new", data=data).status_code == 302
    assert _audited(session) == ["loyalty.tier.create"]
