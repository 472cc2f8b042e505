"""Options that several CLI commands share."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click

F = TypeVar("F", bound=Callable[..., object])


def batch_size_option(
    default: int, help_text: str | None = None, *, most: int = 100_000
) -> Callable[[F], F]:
    """The --batch-size option of a command that commits its work every `default` rows."""
    return click.option(
        "--batch-size",
        default=default,
        show_default=True,
        type=click.IntRange(1, most),
        help=help_text,
    )
