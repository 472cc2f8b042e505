"""Who may use the console: staff only; anyone else gets a plain 404."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort
from flask_login import current_user

F = TypeVar("F", bound=Callable[..., Any])


def staff_role() -> str | None:
    """The signed-in user's console role, or None."""
    if not current_user.is_authenticated:
        return None
    return getattr(current_user, "role", None) if current_user.is_staff else None


def staff_required(view: F) -> F:
    """Admins and merchandisers only; everyone else sees 404 (the console is not advertised)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if staff_role() is None:
            abort(404)
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def admin_required(view: F) -> F:
    """Admins only; merchandisers and everyone else see 404."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if staff_role() != "admin":
            abort(404)
        return view(*args, **kwargs)

    wrapper.admin_only = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]
