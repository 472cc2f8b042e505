"""The words the console uses to say what publishing, discarding or reverting changes."""

from __future__ import annotations

from shop.merchandising.changes import describe_changes, rule_changes, training_changes
from shop.merchandising.config import MerchConfig, PlacementSettings, Rule

TRAINING = {
    "model": "als",
    "model_params": {"factors": 64},
    "weighting": {"kind_weights": {"view": 1.0, "purchase": 5.0}, "half_life_days": 90.0},
    "blend": {"buy_again": 1.0},
}


def test_training_changes_name_each_setting_with_its_old_and_new_value() -> None:
    after = {
        **TRAINING,
        "model": "bpr",
        "model_params": {"factors": 32, "learning_rate": 0.05},
        "weighting": {"kind_weights": {"view": 1.0, "purchase": 8.0}, "half_life_days": None},
        "blend": {"buy_again": 0.5},
    }
    assert training_changes(TRAINING, after) == [
        "Blend / buy again: 1 → 0.5",
        "Model: als → bpr",
        "Model params / factors: 64 → 32",
        "Model params / learning rate: none → 0.05",
        "Half-life (days): 90 → none",
        "Weight of a purchase: 5 → 8",
    ]
    assert training_changes(TRAINING, dict(TRAINING)) == []


def test_rules_added_removed_and_changed_are_named_with_what_they_act_on() -> None:
    pin = Rule("r1", "pin", ("home",), product_id=7, position=1)
    boost = Rule("r2", "boost", category_id=3, factor=2.0)
    never = Rule("r3", "never", product_id=9)
    targets = {"product 7": "Heart Lantern (SKU 85123A)", "category 3": "Candles"}
    moved = Rule("r1", "pin", ("home", "cart"), product_id=7, position=2)
    assert rule_changes((pin, boost), (moved, never), targets) == [
        "Rule removed: boost x2 category 3 (rule r2), Candles, on every placement",
        "Rule changed (placements, position): pin at 2 product 7 (rule r1), "
        "Heart Lantern (SKU 85123A), on home, cart",
        "Rule added: never recommend product 9 (rule r3), on every placement",
    ]
    assert rule_changes((pin,), (pin,), targets) == []


def test_placement_changes_and_everything_together() -> None:
    before = MerchConfig(TRAINING, {"home": PlacementSettings(8), "cart": PlacementSettings(4)})
    after = MerchConfig(
        TRAINING,
        {
            "home": PlacementSettings(12, allow_repurchase=True),
            "cart": PlacementSettings(4, strategy="popular"),
        },
        rules=(Rule("r1", "diversity", max_per_category=2),),
    )
    assert describe_changes(before, after, {}) == [
        "cart: personal → popular",
        "home: 8 items → 12",
        "home: re-purchases no → yes",
        "Rule added: at most 2 per category (rule r1), on every placement",
    ]
