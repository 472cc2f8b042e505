"""Rebasing a draft onto a newly published document keeps the draft's own edits only."""

from __future__ import annotations

from shop.merchandising.rebase import rebase_draft, with_free_ids

OLD = {
    "training": {"weights": {"view": 1.0, "purchase": 5.0}, "half_life_days": 90},
    "placements": {"home": {"size": 8}, "cart": {"size": 4}},
    "rules": [{"id": "r1", "type": "never", "product_id": 1}],
}


def test_untouched_values_follow_the_new_document_and_edited_ones_stay() -> None:
    new = {
        "training": {"weights": {"view": 1.0, "purchase": 5.0}, "half_life_days": 90},
        "placements": {"home": {"size": 8, "strategy": "popular"}, "cart": {"size": 6}},
        "rules": [{"id": "r1", "type": "never", "product_id": 1}],
    }
    draft = {
        "training": {"weights": {"view": 2.0, "purchase": 5.0}, "half_life_days": 90},
        "placements": {"home": {"size": 5}, "cart": {"size": 4}},
        "rules": [{"id": "r1", "type": "never", "product_id": 1}],
    }
    assert rebase_draft(OLD, new, draft) == {
        "training": {"weights": {"view": 2.0, "purchase": 5.0}, "half_life_days": 90},
        "placements": {"home": {"size": 5, "strategy": "popular"}, "cart": {"size": 6}},
        "rules": [{"id": "r1", "type": "never", "product_id": 1}],
    }


def test_rules_added_or_deleted_in_the_draft_stay_so() -> None:
    new = {**OLD, "rules": [*OLD["rules"], {"id": "r2", "type": "exclude", "product_id": 2}]}
    draft = {**OLD, "rules": [{"id": "r2", "type": "bury", "product_id": 3, "factor": 2.0}]}
    assert rebase_draft(OLD, new, draft)["rules"] == [
        {"id": "r2", "type": "exclude", "product_id": 2},
        {"id": "r3", "type": "bury", "product_id": 3, "factor": 2.0},
    ]


def test_a_rule_both_sides_added_is_kept_once() -> None:
    boost = {"id": "r2", "type": "boost", "product_id": 4, "factor": 3.0}
    new = {**OLD, "rules": [*OLD["rules"], boost]}
    draft = {**OLD, "rules": [*OLD["rules"], {**boost, "id": "r9"}]}
    assert rebase_draft(OLD, new, draft)["rules"] == new["rules"]


def test_free_ids_skip_the_taken_ones() -> None:
    taken = {"r1", "r2", "r3"}
    rules = [{"id": "r2", "type": "never"}, {"id": "r7", "type": "never"}]
    assert [r["id"] for r in with_free_ids(rules, taken)] == ["r4", "r7"]
    assert taken == {"r1", "r2", "r3", "r4", "r7"}
