"""Each merchandising rule type, their order, and rules that cannot apply."""

from __future__ import annotations

from datetime import datetime

from shop.merchandising.config import MerchConfig, PlacementSettings, Rule
from shop.merchandising.rules import Candidate, apply_rules


def cand(pid: int, score: float, cat: int | None = 1) -> Candidate:
    return Candidate(pid, score, f"reason {pid}", "personal", cat)


LIST = [cand(1, 0.9, 1), cand(2, 0.8, 1), cand(3, 0.7, 2), cand(4, 0.6, 2), cand(5, 0.5, 3)]


def ids(outcome) -> list[int]:
    return [c.product_id for c in outcome.items]


def test_no_rules_keeps_the_model_order_cut_to_size() -> None:
    assert ids(apply_rules(LIST, [], 3)) == [1, 2, 3]


def test_pin_puts_a_listed_product_at_its_position_and_labels_it() -> None:
    rule = Rule("r1", "pin", product_id=4, position=1)
    outcome = apply_rules(LIST, [rule], 4)
    assert ids(outcome) == [4, 1, 2, 3]
    assert outcome.items[0].moved_by == ("pin at 1 product 4 (rule r1)",)
    assert outcome.items[1].moved_by == ()


def test_pin_brings_in_a_sellable_product_the_model_did_not_return() -> None:
    rule = Rule("r1", "pin", product_id=99, position=2)
    outcome = apply_rules(LIST, [rule], 3, pinnable={99: cand(99, 0.0, 5)})
    assert ids(outcome) == [1, 99, 2]


def test_pin_of_an_unsellable_product_is_skipped_not_fatal() -> None:
    rule = Rule("r1", "pin", product_id=99, position=1)
    outcome = apply_rules(LIST, [rule], 3)
    assert ids(outcome) == [1, 2, 3]
    why = "the product is not on sale (inactive, out of stock or not launched yet)"
    assert outcome.skipped == [(rule, why)]


def test_a_second_pin_for_the_same_slot_is_skipped() -> None:
    first = Rule("a", "pin", product_id=5, position=1)
    second = Rule("b", "pin", product_id=4, position=1)
    outcome = apply_rules(LIST, [first, second], 3)
    assert ids(outcome) == [5, 1, 2]
    assert [r.id for r, _why in outcome.skipped] == ["b"]


def test_pin_outside_the_list_is_skipped() -> None:
    rule = Rule("r", "pin", product_id=5, position=9)
    outcome = apply_rules(LIST, [rule], 3)
    assert ids(outcome) == [1, 2, 3] and outcome.skipped[0][0] is rule


def test_boost_a_product_moves_it_up_by_its_factor() -> None:
    rule = Rule("b", "boost", product_id=4, factor=1.4)  # 0.6 * 1.4 = 0.84 > 0.8
    outcome = apply_rules(LIST, [rule], 5)
    assert ids(outcome) == [1, 4, 2, 3, 5]
    assert outcome.items[1].score == 0.6 * 1.4
    assert outcome.items[1].moved_by == ("boost x1.4 product 4 (rule b)",)


def test_bury_a_category_moves_all_its_items_down() -> None:
    rule = Rule("c", "bury", category_id=1, factor=2)  # 0.45, 0.4
    assert ids(apply_rules(LIST, [rule], 5)) == [3, 4, 5, 1, 2]


def test_boost_lifts_negative_scores_too() -> None:
    items = [cand(1, -0.1), cand(2, -0.3)]
    assert ids(apply_rules(items, [Rule("b", "boost", product_id=2, factor=4)], 2)) == [2, 1]


def test_non_positive_factor_is_skipped() -> None:
    rule = Rule("b", "boost", product_id=5, factor=0)
    outcome = apply_rules(LIST, [rule], 5)
    assert ids(outcome) == [1, 2, 3, 4, 5] and outcome.skipped[0][0] is rule


def test_exclude_products_and_categories() -> None:
    rules = [Rule("x", "exclude", product_id=1), Rule("y", "exclude", category_id=2)]
    assert ids(apply_rules(LIST, rules, 5)) == [2, 5]


def test_never_recommend_wins_over_a_pin() -> None:
    never = Rule("n", "never", product_id=4)
    pin = Rule("p", "pin", product_id=4, position=1)
    outcome = apply_rules(LIST, [never, pin], 3, pinnable={4: cand(4, 0.6, 2)})
    assert ids(outcome) == [1, 2, 3]
    assert outcome.skipped == [(pin, "the product is excluded or on the never-recommend list")]


def test_diversity_keeps_at_most_n_per_category_and_fills_from_further_down() -> None:
    rule = Rule("d", "diversity", max_per_category=1)
    assert ids(apply_rules(LIST, [rule], 3)) == [1, 3, 5]


def test_diversity_counts_after_boosts() -> None:
    rules = [Rule("b", "boost", product_id=2, factor=2), Rule("d", "diversity", max_per_category=1)]
    assert ids(apply_rules(LIST, rules, 3)) == [2, 3, 5]


def test_pin_wins_over_diversity() -> None:
    rules = [Rule("d", "diversity", max_per_category=1), Rule("p", "pin", product_id=2, position=3)]
    assert ids(apply_rules(LIST, rules, 4)) == [1, 3, 2, 5]


def test_rule_windows_and_placements_select_the_active_rules() -> None:
    now = datetime(2026, 11, 23, 12)
    rules = (
        Rule("past", "exclude", product_id=1, ends_at=datetime(2026, 11, 1)),
        Rule("future", "exclude", product_id=2, starts_at=datetime(2026, 12, 1)),
        Rule("now", "exclude", product_id=3, starts_at=datetime(2026, 11, 23)),
        Rule("cart-only", "exclude", product_id=4, placements=("cart",)),
    )
    config = MerchConfig({}, {"home": PlacementSettings(8)}, rules)
    assert [r.id for r in config.rules_for("home", now)] == ["now"]
    assert [r.id for r in config.rules_for("cart", now)] == ["now", "cart-only"]


def test_config_round_trips_through_its_json_form() -> None:
    rule = Rule("r1", "pin", ("home",), product_id=3, position=2, starts_at=datetime(2026, 1, 2))
    config = MerchConfig({"model": "als"}, {"home": PlacementSettings(6, True, "popular")}, (rule,))
    again = MerchConfig.from_dict(
        config.to_dict(), default_training={}, default_placements={}, revision_id=7
    )
    assert again.rules == (rule,)
    assert again.placements["home"] == PlacementSettings(6, True, "popular")
    assert again.training == {"model": "als"} and again.revision_id == 7


def test_an_older_rule_set_gets_the_live_never_and_exclude_rules() -> None:
    placements = {"home": PlacementSettings(8)}
    arm = MerchConfig(
        {},
        placements,
        (Rule("r1", "bury", product_id=1, factor=2.0), Rule("r2", "exclude", product_id=5)),
        revision_id=3,
    )
    live = MerchConfig(
        {},
        placements,
        (
            Rule("r1", "never", product_id=2),
            Rule("r2", "exclude", product_id=5),  # the arm has it already
            Rule("r3", "exclude", category_id=2, placements=("cart",)),
            Rule("r4", "boost", product_id=4, factor=9.0),  # not a safety rule
            Rule("r5", "pin", product_id=2, position=1),
        ),
        revision_id=7,
    )
    merged = arm.with_safety_rules_of(live)
    assert merged.revision_id == 3 and merged.placements == arm.placements
    assert [(r.id, r.type) for r in merged.rules] == [
        ("r1", "bury"),
        ("r2", "exclude"),
        ("r1", "never"),
        ("r3", "exclude"),
    ]
    now = datetime(2024, 1, 1)
    assert ids(apply_rules(LIST, merged.rules_for("home", now), 5)) == [3, 4, 1]
    assert ids(apply_rules(LIST, merged.rules_for("cart", now), 5)) == [1]
    nothing_new = MerchConfig({}, placements, (Rule("r9", "pin", product_id=1, position=1),))
    assert arm.with_safety_rules_of(nothing_new) is arm
