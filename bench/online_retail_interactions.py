"""Turn the UCI Online Retail file into the recommender's generic interactions CSV.

Output columns (with a header): user,item,weight,timestamp,basket — one row per purchase
line: CustomerID, StockCode (upper-cased, as the shop's importer does), Quantity, the
InvoiceDate (ISO 8601) and the InvoiceNo.

Rows left out, counted by reason: no CustomerID, cancellations ("C" invoices) and bad-debt
adjustments ("A"), codes that are not goods (postage, fees, discounts, samples, vouchers:
the importer's list), quantity <= 0, price <= 0, and rows that cannot be read.

    .venv/bin/python -m bench.online_retail_interactions --output online_retail_interactions.csv
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


def convert(source: Path, output: Path) -> tuple[int, Counter[str]]:
    """Write the purchase interactions of source to output; return (rows written, skips)."""
    skipped: Counter[str] = Counter()
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
            if reason:
                skipped[reason] += 1
                continue
            customer = row["CustomerID"].strip().removesuffix(".0")
            when = row["InvoiceDate"].strip().replace(" ", "T")
            item = row["StockCode"].strip().upper()
            writer.writerow([customer, item, row["Quantity"].strip(), when, row["InvoiceNo"]])
            written += 1
    return written, skipped


def main(argv: list[str] | None = None) -> None:
    """Convert the dataset (found under SHOP_DATA_DIR by default)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, help="the raw CSV(.gz); default: SHOP_DATA_DIR's")
    parser.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT, help=f"default: {DEFAULT_OUTPUT}"
    )
    args = parser.parse_args(argv)
    if args.source is None:
        from bench.common import dataset_path

        args.source = dataset_path()
    written, skipped = convert(args.source, args.output)
    print(f"wrote {written:,} interactions to {args.output}", file=sys.stderr)
    for reason, count in skipped.most_common():
        print(f"  skipped {count:,}: {reason}", file=sys.stderr)


if __name__ == "__main__":
    main()
