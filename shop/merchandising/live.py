"""What the storefront serves right now: the live settings, and A/B variants.

Both are read on every recommendation request, so both are cached in memory and
re-checked at most once per `check_s` seconds (a publish shows within that time).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.orm import Session

from shop.merchandising.config import MerchConfig
from shop.merchandising.revisions import RevisionError, live_revision_id, revision_data
from shop.recommendation_data import Shopper
from shop.recommendation_types import Assignment

ConfigFrom = Callable[[Mapping[str, Any], int | None], MerchConfig]


class LiveSettings:
    """The live MerchConfig, reloaded when a newer revision is published."""

    def __init__(self, config_from: ConfigFrom, check_s: float = 1.0) -> None:
        self._config_from = config_from
        self._check_s = check_s
        self._lock = threading.Lock()
        self._config: MerchConfig | None = None
        self._checked = -1e9
        self._revisions: dict[int, MerchConfig] = {}

    def __call__(self, session: Session) -> MerchConfig:
        """The live settings (the defaults before the first publish)."""
        now = time.monotonic()
        with self._lock:
            if self._config is not None and now - self._checked < self._check_s:
                return self._config
        revision_id = live_revision_id(session)
        config = self._config
        # Before the first publish the settings are the defaults, whose training part is
        # what `flask recommender tune` last stored: read again, so a new tune shows.
        if config is None or revision_id is None or config.revision_id != revision_id:
            config = self.revision(session, revision_id)
        with self._lock:
            self._config, self._checked = config, now
        return config

    def revision(self, session: Session, revision_id: int | None) -> MerchConfig:
        """The settings of a published revision (cached: published revisions never change)."""
        if revision_id is None:
            return self._config_from({}, None)
        with self._lock:
            found = self._revisions.get(revision_id)
        if found is None:
            found = self._config_from(revision_data(session, revision_id), revision_id)
            with self._lock:
                self._revisions[revision_id] = found
        return found


def experiment_assigner(
    settings: LiveSettings,
) -> Callable[[Session, Shopper, str], Assignment | None]:
    """Serving's hook into running A/B tests: the shopper's variant for a placement.

    A signed-in shopper is assigned by their account, an anonymous one by visitor id (see
    `assignment.assignment_unit`).

    A shopper who switched personalization (tracking) off is in no experiment: they get the
    lists everyone outside an experiment gets, and their impressions carry no variant, so
    no arm counts them (they are logged as "anonymous" and could not be told apart anyway).
    Nor are crawlers and signed-in staff, whose lists are not counted.
    """
    from shop.merchandising.assignment import assignment_unit
    from shop.merchandising.experiments import assignment_for

    def assign(session: Session, shopper: Shopper, placement: str) -> Assignment | None:
        if not (shopper.personalized and shopper.counted):  # robots and staff too
            return None
        unit = assignment_unit(shopper.user_id, shopper.visitor_id)
        found = assignment_for(session, unit, placement)
        if found is None:
            return None
        label = found.label
        if found.kind == "model":
            return Assignment(label, model_version=found.model_version)
        if found.kind == "rules" and found.revision_id is not None:
            try:
                return Assignment(label, config=settings.revision(session, found.revision_id))
            except RevisionError:
                return Assignment(label)
        return Assignment(label, popularity_only=found.kind == "popularity")

    return assign
