"""Crawlers and link previewers: their page views are not shoppers' behaviour.

A search engine reading every product page would otherwise count as a shopper who viewed
them all: it would lift those products' popularity, give the recommender a "user" who
likes everything, and add lists nobody saw to the impressions that CTR and A/B tests
divide by.
"""

from __future__ import annotations

import re

# The words crawlers put in their User-Agent ("Googlebot/2.1", "bingbot", "AhrefsBot",
# "Baiduspider", "Yahoo! Slurp", "facebookexternalhit", "ia_archiver", ...). Phones named
# "...bot" (Cubot) are not crawlers.
_ROBOT = re.compile(
    r"bot\b|bot/|bot-|bot_|crawl|spider|slurp|facebookexternalhit|mediapartners-google|"
    r"bingpreview|uripreview|ia_archiver|feedfetcher",
    re.IGNORECASE,
)
_NOT_A_ROBOT = re.compile(r"cubot", re.IGNORECASE)


def is_robot(user_agent: str | None) -> bool:
    """True when the User-Agent names a crawler or a link previewer."""
    if not user_agent:
        return False
    return bool(_ROBOT.search(_NOT_A_ROBOT.sub("", user_agent)))
