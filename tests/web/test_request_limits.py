"""Bodies nested too deeply or too large are client errors, never a 500."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from tests.helpers import csrf_token


def test_json_nested_beyond_the_recursion_limit_is_invalid_json(app: Flask) -> None:
    body = '{"product_id": 1, "quantity": ' + "[" * 5000 + "]" * 5000 + "}"
    with app.test_request_context(method="POST", data=body, content_type="application/json"):
        from flask import request

        assert request.get_json(silent=True) is None


def test_a_deeply_nested_json_form_post_is_a_400(client: FlaskClient) -> None:
    token = csrf_token(client, "/")
    body = '{"product_id": 1, "quantity": ' + "[" * 5000 + "]" * 5000 + "}"
    response = client.post(
        "/cart/add",
        data=body,
        headers={"X-CSRFToken": token, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.is_json and "error" in response.get_json()


def test_a_body_over_the_limit_is_a_413(client: FlaskClient, app: Flask) -> None:
    token = csrf_token(client, "/")
    too_big = "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    response = client.post(
        "/cart/add",
        data={"csrf_token": token, "product_id": "1", "quantity": "1", "note": too_big},
    )
    assert response.status_code == 413
    assert "too large" in response.get_data(as_text=True)
