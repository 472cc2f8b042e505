"""Turn the UCI Online Retail file into the recommender's generic interactions CSV.

Output columns (with a header): user,item,weight,timestamp,basket — one row per purchase
line: CustomerID, StockCode (upper-cased, as the shop's importer does), Quantity, the
InvoiceDate (ISO 8601) and the InvoiceNo.

With `--items FILE` it also writes the item features CSV (with a header): item,description —
each StockCode's most frequent Description on product rows that pass the filters below (a
missing CustomerID aside: the catalogue does not depend on who bought), for
`python -m recommender evaluate|tune --items FILE`.

Rows left out, counted by reason: no CustomerID, cancellations ("C" invoices) and bad-debt
adjustments ("A"), codes that are not goods (postage, fees, discounts, samples, vouchers:
the importer's list), quantity <= 0, price <= 0, and rows that cannot be read.

    .venv/bin/python -m bench.online_retail_interactions --output online_retail_interactions.csv \
        --items online_retail_items.csv
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import sys
import tempfile
from collections import Counter
from pathlib import Path

from shop.importer.parsing import is_non_product_code

DEFAULT_OUTPUT = Path(tempfile.gettempdir()) / "shop-bench" / "online_retail_interactions.csv"
FIELDS = ("InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice")


def skip_reason(row: dict[str, str]) -> str | None:
    """Why a raw row is not a purchase interaction, or None when it is one."""
    customer = (row.get("CustomerID") or "").strip()
    if not customer or customer.lower() == "nan":
        return "no customer"
    invoice = (row.get("InvoiceNo") or "").strip()
    if invoice.startswith("C"):
        return "cancellation"
    if invoice.startswith("A"):
        return "bad debt adjustment"
    if is_non_product_code(row.get("StockCode") or ""):
        return "not a product"
    try:
        quantity = int(row["Quantity"])
        price = float(row["UnitPrice"])
    except (KeyError, TypeError, ValueError):
        return "unreadable"
    if quantity <= 0:
        return "quantity <= 0"
    if price <= 0:
        return "price <= 0"
    if not (row.get("InvoiceDate") or "").strip():
        return "unreadable"
    return None


def convert(source: Path, output: Path, items: Path | None = None) -> tuple[int, Counter[str]]:
    """Write the purchase interactions of source to output (and, when items is given, each
    product's description there); return (rows written, skips)."""
    skipped: Counter[str] = Counter()
    descriptions: dict[str, Counter[str]] = {}
    written = 0
    output.parent.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if source.suffix == ".gz" else open
    with opener(source, "rb") as raw, output.open("w", newline="") as out:
        reader = csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8", newline=""))
        missing = {"CustomerID", *FIELDS} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{source}: missing columns {sorted(missing)}")
        writer = csv.writer(out)
        writer.writerow(["user", "item", "weight", "timestamp", "basket"])
        for row in reader:
            reason = skip_reason(row)
            if items is not None and reason in (None, "no customer"):
                description = " ".join((row.get("Description") or "").split())
                if description and description.lower() != "nan":
                    code = row["StockCode"].strip().upper()
                    descriptions.setdefault(code, Counter())[description] += 1
            if reason:
                skipped[reason] += 1
                continue
            customer = row["CustomerID"].strip().removesuffix(".0")
            when = row["InvoiceDate"].strip().replace(" ", "T")
            item = row["StockCode"].strip().upper()
            writer.writerow([customer, item, row["Quantity"].strip(), when, row["InvoiceNo"]])
            written += 1
    if items is not None:
        write_items(descriptions, items)
    return written, skipped


def write_items(descriptions: dict[str, Counter[str]], path: Path) -> None:
    """Write item,description rows: each item's most frequent description (ties: first seen)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["item", "description"])
        for item in sorted(descriptions):
            writer.writerow([item, descriptions[item].most_common(1)[0][0]])


def main(argv: list[str] | None = None) -> None:
    """Convert the dataset (found under SHOP_DATA_DIR by default)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, help="the raw CSV(.gz); default: SHOP_DATA_DIR's")
    parser.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT, help=f"default: {DEFAULT_OUTPUT}"
    )
    parser.add_argument(
        "--items", type=Path, help="also write item,description rows (item features) here"
    )
    args = parser.parse_args(argv)
    if args.source is None:
        from bench.common import dataset_path

        args.source = dataset_path()
    written, skipped = convert(args.source, args.output, args.items)
    print(f"wrote {written:,} interactions to {args.output}", file=sys.stderr)
    if args.items is not None:
        print(f"wrote item descriptions to {args.items}", file=sys.stderr)
    for reason, count in skipped.most_common():
        print(f"  skipped {count:,}: {reason}", file=sys.stderr)


if __name__ == "__main__":
    main()
