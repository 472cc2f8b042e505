"""Simultaneous edits of the merchandising draft take turns: of several rules added at the
same moment (or a rule added while someone saves settings, publishes, discards or an A/B
winner is rolled out) every one is kept or clearly refused, none silently lost, and two
first edits with no draft yet make one draft between them (the races only exist on
PostgreSQL; SQLite's write transactions are serial)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shop.console import audit
from shop.merchandising import editing, revisions
from shop.merchandising.config import Rule
from shop.merchandising.models import MerchRevision
from shop.personalization import service
from tests import factories, races

ACTOR = audit.Actor(None, "merch@example.com")
RACERS = races.RACERS
Action = races.Action


def race(app: Flask, actions: Sequence[Action]) -> list[str]:
    """`races.race_all` with the refusals of editing the draft."""
    refusals = (editing.EditError, editing.AlreadyInDraft, revisions.RevisionError)
    return races.race_all(app, actions, refusals)


def products(session: Session, count: int = RACERS) -> list[int]:
    """`count` products to write rules about, committed."""
    candles = factories.category(session)
    made = [
        factories.product(session, candles, sku=f"SKU{n}", name=f"Candle {n}") for n in range(count)
    ]
    session.commit()
    return [p.id for p in made]


def sizes(app: Flask) -> dict[str, int]:
    """Each placement's list length with the default settings."""
    with app.app_context():
        return {name: p.size for name, p in service().default_config().placements.items()}


def adding(app: Flask, product_id: int, rule_type: str = "never") -> Action:
    """An action adding a rule about one product to the draft."""
    lengths = sizes(app)
    entered = editing.RuleInput(type=rule_type, product_id=product_id, note=f"about {product_id}")
    return lambda tx: editing.add_rule(tx, ACTOR, entered, lengths)


def saving_settings(
    app: Flask, half_life: float, opened: str | None, home_size: int | None = None
) -> Action:
    """An action saving the settings form with a half-life of its own (and, if given, a
    length of the home page's list)."""
    with app.app_context():
        recs = service()
        names = list(recs.placements)
        default_training = recs.default_config().training
        placements: dict[str, dict[str, Any]] = {
            name: {"size": p.size, "allow_repurchase": p.allow_repurchase, "strategy": p.strategy}
            for name, p in recs.default_config().placements.items()
        }
    if home_size is not None:
        placements["home"]["size"] = home_size
    entered = editing.SettingsInput(
        kind_weights={"view": 1.0, "cart_add": 3.0, "purchase": 5.0},
        half_life_days=half_life,
        model="als",
        model_params={},
        placements=placements,
    )

    def save(tx: Session) -> None:
        shown = revisions.draft_revision(tx)  # loaded before it is this save's turn
        editing.update_settings(tx, ACTOR, entered, names, default_training, opened=opened)
        assert shown is None or shown is revisions.draft_revision(tx)

    return save


def fresh(session: Session) -> tuple[dict[str, Any] | None, list[MerchRevision]]:
    """The draft's document (None without a draft) and the published revisions, oldest first."""
    session.rollback()
    draft = revisions.draft_revision(session)
    published = list(
        session.scalars(
            select(MerchRevision)
            .where(MerchRevision.state == "published")
            .order_by(MerchRevision.id)
            .execution_options(populate_existing=True)
        )
    )
    return (draft.data if draft else None), published


def rules_of(document: dict[str, Any] | None) -> list[Rule]:
    return [Rule.from_dict(r) for r in (document or {}).get("rules") or ()]


def product_ids(document: dict[str, Any] | None) -> list[int | None]:
    return sorted(r.product_id or 0 for r in rules_of(document))


def drafts(session: Session) -> int:
    session.rollback()
    query = select(func.count()).where(MerchRevision.state == "draft")
    return session.scalar(query) or 0


def start_draft(app: Flask, session: Session, product_id: int) -> None:
    """A draft holding one rule, committed."""
    entered = editing.RuleInput(type="never", product_id=product_id)
    editing.add_rule(session, ACTOR, entered, sizes(app))
    session.commit()


def opened_draft(app: Flask, session: Session, product_id: int) -> str:
    """Start a draft (`start_draft`) and return its fingerprint, as its page showed it."""
    start_draft(app, session, product_id)
    opened = revisions.fingerprint(revisions.draft_revision(session).data)  # type: ignore[union-attr]
    session.rollback()
    return opened


def refused_as_stale(results: list[str]) -> list[str]:
    """The refusals of a race: at most one, refused because the draft changed after its
    page was opened."""
    refused = [r for r in results if r != "done"]
    assert len(refused) <= 1
    assert all(r.startswith("The draft changed after you opened this page") for r in refused)
    return refused


def test_rules_added_at_once_to_a_draft_are_all_kept(app: Flask, session: Session) -> None:
    ids = products(session, RACERS + 1)
    start_draft(app, session, ids[0])
    results = race(app, [adding(app, pid) for pid in ids[1:]])
    assert results == ["done"] * RACERS
    draft, _ = fresh(session)
    assert product_ids(draft) == sorted(ids)
    rule_ids = [r.id for r in rules_of(draft)]
    assert len(set(rule_ids)) == RACERS + 1
    assert drafts(session) == 1


def test_first_edits_with_no_draft_make_one_draft_keeping_all(app: Flask, session: Session) -> None:
    ids = products(session)
    results = race(app, [adding(app, pid) for pid in ids])
    assert results == ["done"] * RACERS
    assert drafts(session) == 1
    draft, published = fresh(session)
    assert published == []
    assert product_ids(draft) == sorted(ids)
    assert len({r.id for r in rules_of(draft)}) == RACERS


def test_first_edits_after_a_publish_make_one_draft_keeping_all(
    app: Flask, session: Session
) -> None:
    ids = products(session, RACERS + 1)
    start_draft(app, session, ids[0])
    revisions.publish(session, ACTOR, "first")
    session.commit()
    results = race(app, [adding(app, pid) for pid in ids[1:]])
    assert results == ["done"] * RACERS
    assert drafts(session) == 1
    draft, _ = fresh(session)
    assert product_ids(draft) == sorted(ids)


def test_the_same_rule_added_at_once_is_added_once(app: Flask, session: Session) -> None:
    ids = products(session, 2)
    start_draft(app, session, ids[0])
    results = race(app, [adding(app, ids[1])] * RACERS)
    assert results.count("done") == 1
    assert all(r.startswith("Already in the draft: ") for r in results if r != "done")
    draft, _ = fresh(session)
    assert product_ids(draft) == sorted(ids)


def test_rules_added_while_settings_are_saved_are_all_kept(app: Flask, session: Session) -> None:
    ids = products(session, RACERS // 2 + 1)
    start_draft(app, session, ids[0])
    with app.app_context():
        opened = editing.settings_fingerprint(session)
    session.rollback()
    savers = [saving_settings(app, 10.0 + n, opened) for n in range(RACERS // 2)]
    results = race(app, [*savers, *(adding(app, pid) for pid in ids[1:])])
    # One settings save wins; the others were opened before it and are refused as stale.
    refused = [r for r in results if r != "done"]
    assert len(refused) == RACERS // 2 - 1
    assert all(r.startswith("Someone saved other settings in the draft") for r in refused)
    draft, _ = fresh(session)
    assert draft is not None
    assert product_ids(draft) == sorted(ids)
    half_life = draft["training"]["weighting"]["half_life_days"]
    assert half_life in {10.0 + n for n in range(RACERS // 2)}


def test_a_rule_added_while_settings_are_saved_keeps_both_with_no_draft_yet(
    app: Flask, session: Session
) -> None:
    ids = products(session, RACERS - 1)
    with app.app_context():
        opened = editing.settings_fingerprint(session)
    session.rollback()
    results = race(app, [saving_settings(app, 42.0, opened), *(adding(app, pid) for pid in ids)])
    assert results == ["done"] * RACERS
    assert drafts(session) == 1
    draft, _ = fresh(session)
    assert draft is not None
    assert product_ids(draft) == sorted(ids)
    assert draft["training"]["weighting"]["half_life_days"] == 42.0


def where_rules_ended(session: Session) -> list[int | None]:
    """The products of the rules in the draft and in any published revision, each once."""
    draft, published = fresh(session)
    found = set(product_ids(draft))
    for revision in published:
        found |= set(product_ids(revision.data))
    return sorted(found)


def test_rules_added_while_the_draft_is_published_are_never_lost(
    app: Flask, session: Session
) -> None:
    ids = products(session, RACERS)
    opened = opened_draft(app, session, ids[0])

    def publish(tx: Session) -> None:
        revisions.publish(tx, ACTOR, "at once", opened=opened)

    results = race(app, [publish, *(adding(app, pid) for pid in ids[1:])])
    # The publish either went first, or was refused: the draft had changed since it was shown.
    refused = refused_as_stale(results)
    assert where_rules_ended(session) == sorted(ids)
    draft, published = fresh(session)
    if not refused:
        assert product_ids(published[-1].data) == [ids[0]]
        assert product_ids(draft) == sorted(ids)  # a new draft, from the published rule on
    assert drafts(session) <= 1


def test_rules_added_while_the_draft_is_published_from_the_shell_are_never_lost(
    app: Flask, session: Session
) -> None:
    ids = products(session, RACERS)
    start_draft(app, session, ids[0])

    def publish(tx: Session) -> None:
        revisions.publish(tx, ACTOR, "from the shell")

    results = race(app, [publish, *(adding(app, pid) for pid in ids[1:])])
    assert results == ["done"] * RACERS
    assert where_rules_ended(session) == sorted(ids)
    draft, published = fresh(session)
    # Whatever the publish did not take is in the (one) draft, on top of what it published.
    assert set(product_ids(published[-1].data)) | set(product_ids(draft)) == set(ids)
    if draft is not None:
        assert set(product_ids(published[-1].data)) <= set(product_ids(draft))
    assert drafts(session) <= 1


def test_rules_added_while_the_draft_is_discarded_are_kept_or_refused(
    app: Flask, session: Session
) -> None:
    ids = products(session, RACERS)
    opened = opened_draft(app, session, ids[0])

    def discard(tx: Session) -> None:
        revisions.discard_draft(tx, ACTOR, opened=opened)

    results = race(app, [discard, *(adding(app, pid) for pid in ids[1:])])
    refused = refused_as_stale(results)
    draft, _ = fresh(session)
    if refused:  # someone added a rule first: the discard was refused, nothing lost
        assert product_ids(draft) == sorted(ids)
    else:  # the discard went first: every rule added after it is in a new draft
        assert product_ids(draft) == sorted(ids[1:])
    assert drafts(session) == 1


def test_rules_added_while_an_ab_winner_is_rolled_out_are_kept_in_the_draft(
    app: Flask, session: Session
) -> None:
    ids = products(session, RACERS)
    start_draft(app, session, ids[0])

    def roll_out(tx: Session) -> None:
        revisions.publish_change(tx, ACTOR, "A/B winner", lambda d: d.update(winner=True))

    results = race(app, [roll_out, *(adding(app, pid) for pid in ids[1:])])
    assert results == ["done"] * RACERS
    draft, published = fresh(session)
    assert draft is not None
    assert product_ids(draft) == sorted(ids)
    assert draft.get("winner") is True  # the draft was rebased onto the roll-out
    assert published[-1].data.get("winner") is True
    assert drafts(session) == 1


def test_rules_added_and_removed_at_once_are_each_done_once(app: Flask, session: Session) -> None:
    ids = products(session, RACERS // 2 + 1)
    start_draft(app, session, ids[0])
    first = rules_of(fresh(session)[0])[0].id
    session.rollback()

    def remove(tx: Session) -> None:
        editing.remove_rule(tx, ACTOR, first)

    removers: list[Action] = [remove] * (RACERS // 2)
    results = race(app, [*removers, *(adding(app, pid) for pid in ids[1:])])
    refused = [r for r in results if r != "done"]
    assert refused == [f"There is no rule {first} in the draft."] * (RACERS // 2 - 1)
    draft, _ = fresh(session)
    assert product_ids(draft) == sorted(ids[1:])


def test_pins_added_while_a_list_is_shortened_always_fit_it(app: Flask, session: Session) -> None:
    ids = products(session, RACERS - 1)
    with app.app_context():
        opened = editing.settings_fingerprint(session)
    session.rollback()

    def lengths(draft: Any) -> dict[str, int]:  # as the rules page asks: of the draft as it is
        config = service().config_from(draft)
        return {name: p.size for name, p in config.placements.items()}

    def pinning(position: int, product_id: int) -> Action:
        entered = editing.RuleInput(
            type="pin", placements=("home",), product_id=product_id, position=position
        )
        return lambda tx: editing.add_rule(tx, ACTOR, entered, lengths)

    shorten = saving_settings(app, 30.0, opened, home_size=4)
    results = race(app, [shorten, *(pinning(n + 1, pid) for n, pid in enumerate(ids))])
    assert not [r for r in results if r.startswith("error")]
    draft, _ = fresh(session)
    assert draft is not None
    with app.app_context():
        home = lengths(draft)["home"]
    pins = [r for r in rules_of(draft) if r.type == "pin"]
    assert all(r.position is not None and r.position <= home for r in pins)
    assert {1, 2, 3, 4} <= {r.position for r in pins}  # these fit either way
    assert results.count("done") == len(pins) + (home == 4)
    refusals = ("Position ", "Rule r")  # the pin, or the shorter list, was refused
    assert all(r.startswith(refusals) for r in results if r != "done")
