"""Import the UCI Online Retail dataset (a UK gift wholesaler, 2010-12-01 to 2011-12-09).

What becomes what:

* **Products** come from StockCode (upper-cased: "85123a" is "85123A"). The name is the most
  common Description of the code, title-cased ("WHITE HANGING HEART T-LIGHT HOLDER" ->
  "White Hanging Heart T-Light Holder"). The price is the most frequent positive UnitPrice
  on its sale lines, in pence (a tie goes to the lower price; a product only ever returned
  uses its returns). `order_count` is the number of sale invoices containing it. The
  category comes from `shop.catalog.categories.categorise(name)`.
* **Customers** come from CustomerID: a User with `external_ref` = the id, the country they
  ordered from most, the name "Customer 17850", and no e-mail or password (no login).
* **Orders** come from InvoiceNo. A normal invoice is a sale (status "delivered"); a "C"
  invoice is a return (status "refunded") with negative quantities and totals. Lines keep
  the invoice's own unit price. Invoices without a CustomerID are guest orders (no user).
  Totals are the sum of the lines; shipping is 0. Source is "import".
* **Events**: each line of a customer's sale order is also a "purchase" event (visitor
  "import") at the invoice time, for the recommender.

Rows that are not imported are counted by reason (`parsing.SKIP_REASONS`): malformed rows,
bad-debt adjustments ("A" invoices), non-product codes (postage, fees, discounts, manual
corrections, samples, vouchers), stock adjustments (a negative quantity on a normal
invoice), zero or negative prices, and lines of a code that never has a description.
A bad row never stops the import.

Stock rule (deterministic; "the end" is the date of the last invoice in the file):

* A product with no sale in the final 26 weeks (182 days) is out of stock: 0 units.
* Otherwise it holds six weeks of its recent sales: ceil(6 x N / 13), where N is the
  units sold minus the units returned in the final 13 weeks (91 days).
* If N is 0 or less, the final 26 weeks are used instead: ceil(6 x N26 / 26); if that is
  still 0 or less, the stock is 0.

Demo dates: by default every timestamp moves forward by a whole number of days so that the
last invoice falls on `today` (by default the current UTC day, or the day before when the
invoice's time of day is still ahead, so no order lies in the future), keeping the time of
day. The shift is stored on the ImportRun;
later runs reuse the first run's shift whatever their arguments, so a re-run changes nothing.
`shift_dates=False` on a first run keeps the dataset's own dates.

The import is idempotent: rows are matched by natural key (sku, external_ref, order number)
and existing ones are left as they are. The caller commits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.db import utcnow
from shop.importer import loading
from shop.importer.dataset import plan_customers, plan_products, read_dataset
from shop.importer.models import ImportRun
from shop.importer.parsing import SKIP_REASONS, date_shift_days

SOURCE = "online_retail"
DATASET_URL = "https://archive.ics.uci.edu/dataset/352/online+retail"
DAY_SECONDS = 86_400

Progress = Callable[[str, int, int], None]


class DatasetMissingError(FileNotFoundError):
    """The dataset file is not where the importer looked for it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(
            f"The Online Retail dataset was not found at {path}.\n"
            "Set SHOP_DATA_DIR to the folder that holds online-retail/online_retail.csv.gz "
            "(or pass the file's path; an uncompressed .csv works too).\n"
            f"Get the dataset from {DATASET_URL} and save the sheet as CSV with the columns "
            "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country."
        )

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass
class ImportSummary:
    """What one import run read, skipped and created."""

    rows_read: int = 0
    rows_imported: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    categories: int = 0
    products: int = 0
    customers: int = 0
    orders: int = 0
    returns: int = 0
    lines: int = 0
    events: int = 0
    date_shift_days: int = 0
    already_present: dict[str, int] = field(default_factory=dict)

    @property
    def rows_skipped(self) -> int:
        """Rows that were not imported, all reasons together."""
        return sum(self.skipped.values())

    def as_dict(self) -> dict[str, object]:
        """The summary as plain JSON-friendly data (stored on the ImportRun)."""
        return asdict(self)

    def as_text(self) -> str:
        """A readable summary table."""
        rows: list[tuple[str, int | str]] = [
            ("rows read", self.rows_read),
            ("rows imported", self.rows_imported),
            ("rows skipped", self.rows_skipped),
        ]
        rows += [(f"  {reason}", n) for reason, n in self.skipped.items()]
        rows += [
            ("categories created", self.categories),
            ("products created", self.products),
            ("customers created", self.customers),
            ("sale orders created", self.orders),
            ("returns created", self.returns),
            ("order lines created", self.lines),
            ("purchase events created", self.events),
            ("date shift (days)", self.date_shift_days),
        ]
        rows += [(f"already present: {k}", n) for k, n in self.already_present.items() if n]
        width = max(len(label) for label, _ in rows)
        body = [f"{label:<{width}}  {value:>10,}" for label, value in rows]
        return "\n".join(["Online Retail import", *body])


def _first_shift_seconds(session: Session) -> int | None:
    query = (
        select(ImportRun.date_shift_seconds)
        .where(ImportRun.source == SOURCE)
        .order_by(ImportRun.id)
        .limit(1)
    )
    return session.scalar(query)


def import_online_retail(
    session: Session,
    path: str | Path,
    *,
    today: date | None = None,
    shift_dates: bool = True,
    progress: Progress | None = None,
) -> ImportSummary:
    """Import the dataset at `path` (.csv.gz or .csv) idempotently; the caller commits."""
    path = Path(path)
    if not path.is_file():
        raise DatasetMissingError(path)
    started = utcnow()
    data = read_dataset(path, progress)
    shift_seconds = _first_shift_seconds(session)
    if shift_seconds is None:
        last = data.last_invoice_at
        days = date_shift_days(last, today or utcnow()) if shift_dates and last else 0
        shift_seconds = days * DAY_SECONDS
    shift = timedelta(seconds=shift_seconds)
    skipped = {reason: data.skipped[reason] for reason in SKIP_REASONS if data.skipped[reason]}
    summary = ImportSummary(
        rows_read=data.rows_read,
        rows_imported=data.rows_imported,
        skipped=skipped,
        date_shift_days=shift_seconds // DAY_SECONDS,
    )

    category_ids, summary.categories = loading.load_categories(session, progress)
    products = plan_products(data)
    product_ids, summary.products = loading.load_products(session, products, category_ids, progress)
    customers = plan_customers(data)
    user_ids, summary.customers = loading.load_customers(session, customers, shift, progress)
    orders, created = loading.load_orders(session, data, user_ids, shift, progress)
    summary.returns = sum(1 for invoice, _id in orders if invoice.is_return)
    summary.orders = created - summary.returns
    names = {p.sku: p.name for p in products}
    summary.lines = loading.load_lines(session, orders, product_ids, names, progress)
    summary.events = loading.load_events(session, orders, product_ids, user_ids, shift, progress)
    summary.already_present = {
        "products": len(products) - summary.products,
        "customers": len(customers) - summary.customers,
        "orders": len(data.invoices) - created,
    }
    session.add(
        ImportRun(
            source=SOURCE,
            started_at=started,
            finished_at=utcnow(),
            date_shift_seconds=shift_seconds,
            summary=summary.as_dict(),
        )
    )
    session.flush()
    return summary
