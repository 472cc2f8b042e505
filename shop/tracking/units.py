"""Who a logged row was for, in SQL: the account when there was one, else the browser.

A signed-in shopper counts once however many browsers they use; an anonymous visitor is
told apart only by their browser's visitor id. A/B results and campaign clicks count the
same way (`shop.merchandising.assignment.assignment_unit` is the Python side).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, case, cast, literal
from sqlalchemy.sql.elements import ColumnElement

ACCOUNT_PREFIX = "user:"  # visitor ids (hex, "order-<number>", ...) never contain a colon


def person_key(user_id: Any, visitor_id: Any) -> ColumnElement[str]:
    """ "user:<user_id>" when the row has a user id, else its visitor id."""
    account = literal(ACCOUNT_PREFIX, String) + cast(user_id, String)
    return case((user_id.is_not(None), account), else_=visitor_id)
