"""Fixtures for web tests: a small shop with a trained recommender."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from shop.accounts.models import User
from shop.catalog.models import Product
from shop.db import db
from shop.personalization import service
from tests import factories
from tests.recommendation_support import catalogue, history


@pytest.fixture
def shop(session: Session) -> dict[str, Product]:
    return catalogue(session)


@pytest.fixture
def trained(app: Flask, session: Session, shop: dict[str, Product]) -> list[User]:
    users = [factories.user(session, f"buyer{i}@example.com", f"Buyer {i}") for i in range(8)]
    session.commit()
    history(session, shop, users)
    with app.app_context():
        service().train(db.session)
    return users
