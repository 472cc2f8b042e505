"""Console: the catalogue (list, search, edit, create, CSV)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from shop.catalog import stock_alerts
from shop.catalog.models import Category
from shop.console import audit, catalog_admin
from shop.console.catalog_admin import (
    MAX_IMPORT_BYTES,
    CatalogAdminError,
    CsvFileError,
    EditConflict,
    ProductValues,
)
from shop.console.product_forms import (
    ImportForm,
    NewProductForm,
    ProductFilterForm,
    ProductForm,
    category_choices,
    opened_token,
)
from shop.db import db, utcnow
from shop.pagination import Page, PageError, parse_page
from shop.returns.stats import product_returns

bp = Blueprint("products", __name__, url_prefix="/products")

PER_PAGE = 50
# Room for the multipart envelope around the file itself.
UPLOAD_SLACK = 64 * 1024


def _error(status: int, message: str) -> tuple[str, int]:
    return render_template("errors/error.html", status=status, message=message), status


@bp.route("/")
def index() -> str | tuple[str, int]:
    """The catalogue, searchable and filterable, a page at a time."""
    cats = catalog_admin.categories(db.session)
    form = ProductFilterForm(request.args)
    form.category.choices = category_choices(cats, "Any")
    try:
        page = parse_page(request.args.get("page"))
    except PageError as exc:
        return _error(exc.status, str(exc))
    if not form.validate():
        empty: Page[object] = Page([], 0, 1, PER_PAGE)
        return render_template("console/products/index.html", form=form, page=empty), 400
    try:
        found = catalog_admin.product_page(db.session, form.filters(), page=page, per_page=PER_PAGE)
    except PageError as exc:
        return _error(exc.status, str(exc))
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "console/products/index.html",
        form=form,
        page=found,
        args=args,
        low_stock=catalog_admin.LOW_STOCK,
        now=utcnow(),
        waiting=stock_alerts.waiting_counts(db.session, [p.id for p in found.items]),
    )


@bp.route("/<int:product_id>", methods=["GET", "POST"])
def edit(product_id: int) -> Response | str | tuple[str, int]:
    """Edit one product's name, description, price, stock, category and active flag.

    The form carries the product as it was shown; if someone saved the product after that,
    nothing is saved and the page (409) says what changed, rather than undoing their change.
    """
    product = catalog_admin.get_product(db.session, product_id)
    if product is None:
        abort(404)
    cats = catalog_admin.categories(db.session)
    form = ProductForm()
    form.category.choices = category_choices(cats, "None")
    if not form.is_submitted():
        form.process(data=_form_data(catalog_admin.product_values(product)))
    elif form.validate():
        typed, opened = form.values(), form.opened_values()
        try:
            if opened is None:  # the form did not say what it showed: it cannot be checked
                raise EditConflict(catalog_admin.product_values(product))
            catalog_admin.update_product(
                db.session, audit.Actor.of(current_user), product_id, typed, opened=opened
            )
        except EditConflict as exc:
            db.session.rollback()
            form, conflict = _after_conflict(form, typed, opened, exc, cats)
            return render_template(
                "console/products/edit.html",
                form=form,
                product=product,
                conflict=conflict,
                waiting=stock_alerts.waiting_count(db.session, product_id),
                returns=product_returns(db.session, product_id),
            ), 409
        except CatalogAdminError as exc:
            db.session.rollback()
            _field_error(form, exc)
        else:
            db.session.commit()
            flash(f"Saved {product.sku}.", "success")
            return redirect(url_for(".edit", product_id=product_id))
    status = 400 if form.is_submitted() else 200
    return render_template(
        "console/products/edit.html",
        form=form,
        product=product,
        waiting=stock_alerts.waiting_count(db.session, product_id),
        returns=product_returns(db.session, product_id),
    ), status


# The form field of each ProductValues field, in the form's order.
FORM_FIELDS = {
    "name": "name",
    "description": "description",
    "price_pence": "price",
    "stock_qty": "stock",
    "category_id": "category",
    "active": "active",
    "launches_at": "launches_at",
}


def _form_data(values: ProductValues) -> dict[str, object]:
    return {
        "name": values.name,
        "description": values.description,
        "price": catalog_admin.format_price(values.price_pence),
        "stock": values.stock_qty,
        "category": str(values.category_id or ""),
        "active": values.active,
        "launches_at": values.launches_at,
        "opened": opened_token(values),
    }


@dataclass(frozen=True)
class ConflictRow:
    """A field whose saved value is not what the user last saw: as opened, now and typed."""

    label: str
    opened: str | None  # None when the form did not say
    saved: str
    typed: str
    kept_typed: bool  # the form shows what was typed (otherwise the saved value)


@dataclass(frozen=True)
class Conflict:
    """What the edit page says after a save that found the product changed."""

    checked: bool  # False when the form did not say what it was opened with
    rows: list[ConflictRow]


def _after_conflict(
    typed_form: ProductForm,
    typed: ProductValues,
    opened: ProductValues | None,
    exc: EditConflict,
    cats: list[Category],
) -> tuple[ProductForm, Conflict]:
    """The form to show after a conflict, and what to say about it.

    Fields the user changed keep what they typed; the others show the saved value, so saving
    again does not undo anyone's change unseen. The form is now opened at the saved values.
    """
    saved = exc.saved

    def typed_it(attr: str) -> bool:
        return opened is None or getattr(typed, attr) != getattr(opened, attr)

    shown = replace(saved, **{attr: getattr(typed, attr) for attr in FORM_FIELDS if typed_it(attr)})
    data = _form_data(shown) | {"opened": opened_token(saved)}
    if typed_it("price_pence"):
        data["price"] = typed_form.price.data  # as typed
    form = ProductForm(formdata=None, data=data)
    form.category.choices = category_choices(cats, "None")
    names = {c.id: c.name for c in cats}

    def text(attr: str, values: ProductValues) -> str:
        value = getattr(values, attr)
        if attr == "price_pence":
            return f"£{catalog_admin.format_price(value)}"
        if attr == "category_id":
            return names.get(value, f"category {value}") if value is not None else "None"
        if attr == "active":
            return "yes" if value else "no"
        if attr == "launches_at":
            return value.strftime("%d %b %Y %H:%M UTC") if value else "none"
        if attr == "description":
            value = value if len(value) <= 200 else value[:200] + "…"
            return value or "(empty)"
        return str(value)

    if opened is None:
        changed = [a for a in FORM_FIELDS if getattr(saved, a) != getattr(typed, a)]
    else:
        changed = [a for a in FORM_FIELDS if a in exc.fields]
    rows = []
    for attr in changed:
        field = form[FORM_FIELDS[attr]]
        rows.append(
            ConflictRow(
                label=field.label.text,
                opened=text(attr, opened) if opened is not None else None,
                saved=text(attr, saved),
                typed=text(attr, typed),
                kept_typed=typed_it(attr),
            )
        )
        if typed_it(attr) and getattr(typed, attr) != getattr(saved, attr):
            if attr == "stock_qty" and opened is not None:
                message = (
                    f"The stock changed to {saved.stock_qty} while you were editing "
                    "(an order, perhaps); check it and save again."
                )
            else:
                message = (
                    f"Saved as {text(attr, saved)} now; saving again replaces it with "
                    "what you typed."
                )
            field.errors = [*field.errors, message]
    return form, Conflict(checked=opened is not None, rows=rows)


@bp.route("/new", methods=["GET", "POST"])
def create() -> Response | str | tuple[str, int]:
    """Add a product with a SKU of its own."""
    form = NewProductForm()
    form.category.choices = category_choices(catalog_admin.categories(db.session), "None")
    if not form.is_submitted():
        form.active.data = True
        form.stock.data = 0
    elif form.validate():
        try:
            product = catalog_admin.create_product(
                db.session, audit.Actor.of(current_user), form.sku.data or "", form.values()
            )
        except CatalogAdminError as exc:
            db.session.rollback()
            _field_error(form, exc)
        else:
            product_id, sku = product.id, product.sku
            db.session.commit()
            flash(f"Created {sku}.", "success")
            return redirect(url_for(".edit", product_id=product_id))
    status = 400 if form.is_submitted() else 200
    return render_template("console/products/edit.html", form=form, product=None), status


def _field_error(form: ProductForm, exc: CatalogAdminError) -> None:
    target = form[exc.field] if exc.field and exc.field in form else form.name
    target.errors = [*target.errors, str(exc)]


@bp.route("/export.csv")
def export() -> Response:
    """Download the whole catalogue as CSV, in the columns the import reads."""
    body = catalog_admin.export_csv(db.session)
    filename = f"catalogue-{date.today().isoformat()}.csv"
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.route("/import", methods=["GET", "POST"])
def import_csv() -> str | tuple[str, int]:
    """Upload a CSV that creates or updates products by SKU; bad rows are listed, not applied."""
    limit_mb = MAX_IMPORT_BYTES // (1024 * 1024)
    if request.method == "POST":
        # Refuse oversized uploads before the body is read.
        request.max_content_length = MAX_IMPORT_BYTES + UPLOAD_SLACK
        if (request.content_length or 0) > MAX_IMPORT_BYTES + UPLOAD_SLACK:
            form = ImportForm(formdata=None)
            form.file.errors = [f"The file is larger than {limit_mb} MB; split it up."]
            return _import_page(form, None, 413)
    form = ImportForm()
    report = None
    if form.validate_on_submit():
        data = form.file.data.read(MAX_IMPORT_BYTES + 1)
        try:
            report = catalog_admin.import_catalog(db.session, audit.Actor.of(current_user), data)
        except CsvFileError as exc:
            db.session.rollback()
            form.file.errors = [str(exc)]
        else:
            db.session.commit()
    status = 400 if form.is_submitted() and form.errors else 200
    return _import_page(form, report, status)


def _import_page(
    form: ImportForm, report: catalog_admin.ImportReport | None, status: int
) -> tuple[str, int]:
    return render_template(
        "console/products/import.html",
        form=form,
        report=report,
        columns=catalog_admin.CSV_COLUMNS,
        limit_mb=MAX_IMPORT_BYTES // (1024 * 1024),
        max_rows=catalog_admin.MAX_IMPORT_ROWS,
    ), status
