"""How staff name a customer in a search box: an e-mail address, "#12" or "account 12" (an
account id), "customer 12" or "customer number 12" (an imported customer number), or
anything else, which each search reads in its own way (a bare number may be either id)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

ACCOUNT_ID_RE = re.compile(r"(?:#|account\s+#?)\s*(\S+)", re.IGNORECASE)
CUSTOMER_NUMBER_RE = re.compile(r"customer\s+(?:number\s+)?#?\s*(\S+)", re.IGNORECASE)

RefKind = Literal["email", "account", "customer", "other"]


@dataclass(frozen=True)
class CustomerRef:
    """What the text names: `kind`, and the value to look up (the text without its
    "#", "account" or "customer" prefix; stripped)."""

    kind: RefKind
    value: str


def parse_customer_ref(text: str) -> CustomerRef:
    """Read a search text as an e-mail, an account id, a customer number or something else."""
    text = text.strip()
    if "@" in text:
        return CustomerRef("email", text)
    if match := ACCOUNT_ID_RE.fullmatch(text):
        return CustomerRef("account", match.group(1))
    if match := CUSTOMER_NUMBER_RE.fullmatch(text):
        return CustomerRef("customer", match.group(1))
    return CustomerRef("other", text)
