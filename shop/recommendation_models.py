"""What the shop records about recommendations: every list shown (an impression)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from shop.db import Base, utcnow


class Impression(Base):
    """One recommendation list shown to a visitor, with the id clicks carry back."""

    __tablename__ = "recommendation_impressions"
    __table_args__ = (Index("ix_impressions_placement_time", "placement", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rec_id: Mapped[str] = mapped_column(String(32), unique=True)
    placement: Mapped[str] = mapped_column(String(40))
    model_version: Mapped[str] = mapped_column(String(64))
    strategy: Mapped[str] = mapped_column(String(40))
    variant: Mapped[str | None] = mapped_column(String(40))
    visitor_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    product_ids: Mapped[list[Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
