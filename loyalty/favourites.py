"""Favourite categories as the recommender's serving code reads them (a boost per member)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty.models import FavouriteCategory


def favourite_category_ids(session: Session, user_id: int | None) -> frozenset[int]:
    """The ids of the categories the member chose as favourites (empty for anonymous)."""
    if user_id is None:
        return frozenset()
    return frozenset(
        session.scalars(
            select(FavouriteCategory.category_id).where(FavouriteCategory.user_id == user_id)
        )
    )
