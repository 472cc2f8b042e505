"""Assembles the console: its shell blueprint with every area's blueprint nested inside.

Nesting puts each area under /console and behind the shell's staff-only check.
"""

from __future__ import annotations

from flask import Blueprint


def console_blueprint() -> Blueprint:
    """The /console blueprint with the areas registered inside it."""
    from shop.console.views import bp

    if not getattr(bp, "_areas_registered", False):
        for area in _areas():
            bp.register_blueprint(area)
        bp._areas_registered = True  # type: ignore[attr-defined]
    return bp


def _areas() -> list[Blueprint]:
    areas: list[Blueprint] = []
    return areas
