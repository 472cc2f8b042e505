"""Exceptions the shop catches to fall back to popular items."""

from __future__ import annotations


class ModelUnavailableError(Exception):
    """No usable trained model: serve popular items instead."""


class ArtifactError(ModelUnavailableError, ValueError):
    """A model artifact is missing, truncated, corrupt or not a model at all."""


class VersionNotFoundError(ModelUnavailableError, LookupError):
    """The model store holds no version with that id."""


class NoActiveVersionError(ModelUnavailableError):
    """The model store has no active version yet."""
