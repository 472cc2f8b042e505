"""The page that shows staff what an action will do before they confirm it."""

from __future__ import annotations

from dataclasses import dataclass

CANNOT_BE_UNDONE = "Nothing has happened yet, and it cannot be undone once confirmed."


@dataclass(frozen=True)
class ActionReview:
    """A confirmation page: its heading, what will happen, its two buttons, and whether
    the action can be undone."""

    heading: str
    lines: list[str]
    confirm_label: str
    back_label: str
    undo: str = CANNOT_BE_UNDONE
