"""Read interactions from a CSV of user,item[,weight][,timestamp] without ever crashing on
a bad row: bad rows are counted by reason and left out.

Without a header the columns are positional: user, item, then optionally weight, then
optionally timestamp. A header row (detected when its first two fields are named like
"user" and "item") may name the columns in any order: user, item, weight (or quantity),
timestamp (or time, date), kind, basket (or order). The weight is read as the interaction's
quantity, so it is log-scaled like one (1 + ln w). Timestamps are seconds since the epoch or
ISO 8601 dates/times (naive means UTC), from 1970-01-01 up to 2200-01-01.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TextIO

import numpy as np

from recommender.interactions import Interactions, to_epoch_seconds

ALIASES = {
    "user": "user",
    "user_id": "user",
    "userid": "user",
    "customer": "user",
    "customerid": "user",
    "item": "item",
    "item_id": "item",
    "itemid": "item",
    "product": "item",
    "sku": "item",
    "weight": "weight",
    "quantity": "weight",
    "rating": "weight",
    "timestamp": "timestamp",
    "time": "timestamp",
    "date": "timestamp",
    "kind": "kind",
    "event": "kind",
    "basket": "basket",
    "order": "basket",
    "order_id": "basket",
}
POSITIONAL = ("user", "item", "weight", "timestamp")
EXAMPLES = 5
# Timestamps outside [1970-01-01, 2200-01-01) are a unit mistake (milliseconds) or garbage:
# one of them would move "now" by centuries and fade every weight to nothing.
EARLIEST_TIMESTAMP = 0.0
LATEST_TIMESTAMP = 7_258_118_400.0  # 2200-01-01T00:00:00Z
OUT_OF_RANGE = "timestamp outside 1970-2199"
NOT_UTF8 = "not UTF-8 text"


@dataclass
class CsvReport:
    """What reading a CSV found."""

    rows: int = 0
    loaded: int = 0
    header: list[str] | None = None
    bad: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    @property
    def bad_rows(self) -> int:
        """Rows left out, all reasons together."""
        return sum(self.bad.values())

    def reject(self, reason: str, line: int, row: list[str]) -> None:
        """Count a bad row and keep a few examples."""
        self.bad[reason] += 1
        if len(self.examples) < EXAMPLES:
            text = _printable(",".join(row)[:120])
            self.examples.append(f"line {line}: {reason}" + (f": {text}" if text else ""))

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly form."""
        return {
            "rows": self.rows,
            "loaded": self.loaded,
            "bad_rows": self.bad_rows,
            "bad": dict(self.bad),
            "examples": self.examples,
            "header": self.header,
        }

    def summary(self) -> str:
        """One readable line."""
        text = f"{self.rows:,} rows read, {self.loaded:,} loaded, {self.bad_rows:,} bad"
        if self.bad:
            text += " (" + ", ".join(f"{n:,} {why}" for why, n in self.bad.most_common()) + ")"
        return text


def _open(path: Path, errors: str = "strict") -> TextIO:
    # utf-8-sig: a byte order mark (Excel's "CSV UTF-8") is not read as part of the first field.
    if path.suffix == ".gz":
        return io.TextIOWrapper(
            gzip.open(path, "rb"), encoding="utf-8-sig", errors=errors, newline=""
        )
    return path.open(encoding="utf-8-sig", errors=errors, newline="")


def _check_delimiter(delimiter: str) -> None:
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise ValueError(f"the delimiter must be one character, not {delimiter!r}")


def _printable(text: str) -> str:
    """Text with the bytes that were not UTF-8 (kept as lone surrogates) shown as U+FFFD."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _is_utf8(row: list[str]) -> bool:
    """False when a field holds bytes that were not UTF-8 (read as lone surrogates)."""
    text = "".join(row)
    if text.isascii():  # constant time in CPython, and most rows are
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _records(
    handle: TextIO, delimiter: str, report: CsvReport, path: Path
) -> Iterator[tuple[int, list[str]]]:
    """The CSV rows with the line each starts on; a row the csv module cannot split (a field
    over its size limit...) is counted as bad and skipped.

    Raises
    ------
    ValueError
        When a .gz file cannot be decompressed.
    """
    reader = csv.reader(handle, delimiter=delimiter)
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            report.rows += 1
            report.reject(f"unreadable CSV row: {exc}", line, [])
            continue
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise ValueError(f"{path}: cannot decompress line {line} onwards: {exc}") from None
        yield line, row


def _header_columns(first: list[str]) -> list[str] | None:
    names = [ALIASES.get(f.strip().lower().lstrip("\ufeff")) for f in first]
    if len(names) >= 2 and names[0] is not None and names[1] is not None:
        if None in names or len(set(names)) != len(names) or not {"user", "item"} <= set(names):
            raise ValueError(f"unusable header {first!r}: known columns are {sorted(ALIASES)}")
        return names  # type: ignore[return-value]
    return None


def read_interactions_csv(
    path: str | Path, *, default_kind: str = "purchase", delimiter: str = ","
) -> tuple[Interactions, CsvReport]:
    """Read a CSV (optionally .gz) of interactions.

    Parameters
    ----------
    path : str or pathlib.Path
    default_kind : str
        The kind of rows without a kind column.
    delimiter : str

    Returns
    -------
    (Interactions, CsvReport)

    Raises
    ------
    FileNotFoundError
        When the file does not exist.
    ValueError
        When the delimiter is not one character, the header names unknown columns or a .gz
        file cannot be decompressed (rows
        themselves never raise: a row that is not UTF-8 or that the csv module cannot
        split is a bad row).
    """
    path = Path(path)
    _check_delimiter(delimiter)
    report = CsvReport()
    users: list[str] = []
    items: list[str] = []
    weights: list[str] = []
    times: list[float] = []
    parse_timestamp = _timestamp_parser()
    kinds: list[str] = []
    baskets: list[str] = []
    # surrogateescape: bytes that are not UTF-8 spoil only their own row (`_is_utf8`).
    with _open(path, errors="surrogateescape") as handle:
        columns: list[str] | None = None
        for number, row in _records(handle, delimiter, report, path):
            if number == 1:
                columns = _header_columns(row)
                if columns is not None:
                    report.header = columns
                    continue
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            report.rows += 1
            if not _is_utf8(row):
                report.reject(NOT_UTF8, number, row)
                continue
            if columns is not None:
                if len(row) != len(columns):
                    report.reject("wrong number of fields", number, row)
                    continue
                fields = dict(zip(columns, row, strict=True))
            else:
                if not 2 <= len(row) <= len(POSITIONAL):
                    report.reject("wrong number of fields", number, row)
                    continue
                fields = dict(zip(POSITIONAL, row, strict=False))
            user, item = fields["user"].strip(), fields["item"].strip()
            if not user or not item:
                report.reject("missing user or item", number, row)
                continue
            weight = fields.get("weight", "").strip()
            if weight:
                try:
                    value = float(weight)
                except ValueError:
                    value = math.nan
                if not (math.isfinite(value) and value > 0):
                    report.reject("weight is not a positive number", number, row)
                    continue
            stamp = fields.get("timestamp", "").strip()
            moment = parse_timestamp(stamp) if stamp else math.nan
            if stamp and math.isnan(moment):
                report.reject("unreadable timestamp", number, row)
                continue
            if stamp and not EARLIEST_TIMESTAMP <= moment < LATEST_TIMESTAMP:
                report.reject(OUT_OF_RANGE, number, row)
                continue
            users.append(user)
            items.append(item)
            weights.append(weight)
            times.append(moment)
            kinds.append(fields.get("kind", "").strip() or default_kind)
            baskets.append(fields.get("basket", "").strip())
    report.loaded = len(users)
    interactions = Interactions.from_arrays(
        np.array(users, dtype=str),
        np.array(items, dtype=str),
        kinds=np.array(kinds, dtype=str) if kinds else default_kind,
        timestamps=np.array(times, dtype=np.float64),
        quantities=np.array([float(w) if w else np.nan for w in weights], dtype=np.float64),
        baskets=baskets,
    )
    return interactions, report


def _timestamp_parser() -> Callable[[str], float]:
    """Return a parser of timestamp text to epoch seconds (NaN when unreadable), memoised:
    many rows share a time (every line of an order does)."""
    memo: dict[str, float] = {}

    def parse(text: str) -> float:
        try:
            return memo[text]
        except KeyError:
            pass
        try:
            value = to_epoch_seconds(text)
        except ValueError:
            value = math.nan
        memo[text] = value
        return value

    return parse


def parse_date(text: str) -> float:
    """Parse a command-line date or datetime (ISO 8601, naive means UTC) to epoch seconds."""
    try:
        return to_epoch_seconds(datetime.fromisoformat(text.strip()))
    except ValueError:
        raise ValueError(f"not an ISO date: {text!r} (use e.g. 2011-09-01)") from None


ITEM_KEY_COLUMNS = ("item", "item_id", "itemid", "product", "sku", "stockcode")


def read_item_features_csv(path: str | Path, delimiter: str = ",") -> dict[str, str]:
    """Read item features from a CSV with a header: an item column (item, sku, product...)
    and one or more text columns (e.g. description, name, category), joined by spaces.

    Rows without an item key are skipped; a repeated item keeps its first row.

    Raises
    ------
    ValueError
        When the delimiter is not one character, or the file has no header or no item column.
    """
    _check_delimiter(delimiter)
    with _open(Path(path)) as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        header = [name.strip().lower().lstrip("\ufeff") for name in next(reader, [])]
        key = next((i for i, name in enumerate(header) if name in ITEM_KEY_COLUMNS), None)
        if key is None:
            raise ValueError(f"{path}: the header needs an item column, e.g. item,description")
        features: dict[str, str] = {}
        for row in reader:
            if len(row) <= key or not row[key].strip():
                continue
            text = " ".join(field.strip() for i, field in enumerate(row) if i != key)
            features.setdefault(row[key].strip(), text.strip())
    return features
