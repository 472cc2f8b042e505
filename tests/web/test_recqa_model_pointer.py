"""A pointer file to the active model version that is valid JSON of the wrong shape (edited
by hand, or written by another tool) is reported like an unreadable one: pages fall back to
best sellers and the commands say what is wrong."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from shop.accounts.models import User
from shop.catalog.models import Product


@pytest.mark.parametrize(
    "pointer",
    [
        '{"active": 5, "history": []}',
        '{"active": ["v1"], "history": []}',
        '{"active": null, "history": 5}',
        "[1]",
    ],
)
def test_a_pointer_of_the_wrong_shape_serves_best_sellers_and_is_reported(
    app: Flask,
    client: FlaskClient,
    trained: list[User],
    shop: dict[str, Product],
    pointer: str,
) -> None:
    recs = app.extensions["recommendations"]
    first = recs.store.active()
    (recs.store.directory / "ACTIVE").write_text(pointer)
    recs.model_check_s = 0.0
    home = client.get("/")
    assert home.status_code == 200
    assert "Popular right now" in home.get_data(as_text=True)
    product = client.get(f"/products/{shop['heart'].id}")
    assert product.status_code == 200
    runner = app.test_cli_runner()
    listing = runner.invoke(args=["recommender", "versions"])
    assert listing.exit_code == 0
    assert "Warning: unreadable pointer file ACTIVE" in listing.output
    back = runner.invoke(args=["recommender", "rollback"])
    assert back.exit_code == 1
    assert "Error: unreadable pointer file ACTIVE" in back.output
    assert "Traceback" not in back.output
    repaired = runner.invoke(args=["recommender", "activate", first])
    assert repaired.exit_code == 0, repaired.output
    assert recs.model() is not None and recs.model()[0] == first
