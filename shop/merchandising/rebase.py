"""Carrying a draft's own edits over to a newly published document.

When something is published around the draft (an A/B winner rolled out), the draft must
neither undo that on its next publish nor lose the merchandiser's unpublished work. The
draft is rebased: the new live document, with the draft's own edits (what it changed
relative to the live document it was started from) made again on top.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

from shop.merchandising.config import Rule

_MISSING = object()


def rebase_draft(
    old_live: dict[str, Any], new_live: dict[str, Any], draft: dict[str, Any]
) -> dict[str, Any]:
    """The draft's edits relative to `old_live`, made again on `new_live`.

    Settings: a value the draft changed (or removed) keeps the draft's version; any other
    takes the new live one. Rules: those the draft added are kept, those it deleted stay
    deleted, and the rest are the new live rules (rules compare by content, not id).
    """
    result = _merge(_settings(old_live), _settings(new_live), _settings(draft))
    rules = _merge_rules(
        old_live.get("rules") or [], new_live.get("rules") or [], draft.get("rules") or []
    )
    if rules or "rules" in new_live or "rules" in draft:
        result["rules"] = rules
    return result


def _merge(old: dict[str, Any], new: dict[str, Any], draft: dict[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for key in dict.fromkeys([*new, *draft]):
        was, now, mine = old.get(key, _MISSING), new.get(key, _MISSING), draft.get(key, _MISSING)
        if mine == was:  # the draft left it alone
            value = now
        elif isinstance(mine, dict) and isinstance(now, dict):
            value = _merge(was if isinstance(was, dict) else {}, now, mine)
        else:
            value = mine
        if value is not _MISSING:
            merged[key] = copy.deepcopy(value)
    return merged


def _settings(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != "rules"}


def _content(raw: dict[str, Any]) -> Rule:
    return replace(Rule.from_dict(raw), id="")


def _merge_rules(
    old: list[dict[str, Any]], new: list[dict[str, Any]], draft: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    before = {_content(r) for r in old}
    mine = {_content(r) for r in draft}
    removed = before - mine
    kept = [copy.deepcopy(r) for r in new if _content(r) not in removed]
    present = {_content(r) for r in kept}
    added = [r for r in draft if _content(r) not in before and _content(r) not in present]
    return [*kept, *with_free_ids(added, {str(r["id"]) for r in kept})]


def with_free_ids(rules: list[dict[str, Any]], taken: set[str]) -> list[dict[str, Any]]:
    """Copies of `rules`, each renumbered when its id is in `taken` (ids are unique within
    a document); `taken` grows with the ids given out."""
    result = []
    for raw in rules:
        if str(raw["id"]) in taken:
            number = len(taken) + 1
            while f"r{number}" in taken:
                number += 1
            raw = {**raw, "id": f"r{number}"}
        taken.add(str(raw["id"]))
        result.append(copy.deepcopy(raw))
    return result
