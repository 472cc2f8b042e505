"""Console: the catalogue (list, search, edit, create, CSV)."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from shop.console import audit, catalog_admin
from shop.console.catalog_admin import MAX_IMPORT_BYTES, CatalogAdminError, CsvFileError
from shop.console.product_forms import (
    ImportForm,
    NewProductForm,
    ProductFilterForm,
    ProductForm,
    category_choices,
)
from shop.db import db
from shop.pagination import Page, PageError, parse_page

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
    )


@bp.route("/<int:product_id>", methods=["GET", "POST"])
def edit(product_id: int) -> Response | str | tuple[str, int]:
    """Edit one product's name, description, price, stock, category and active flag."""
    product = catalog_admin.get_product(db.session, product_id)
    if product is None:
        abort(404)
    form = ProductForm()
    form.category.choices = category_choices(catalog_admin.categories(db.session), "None")
    if not form.is_submitted():
        form.process(
            data={
                "name": product.name,
                "description": product.description,
                "price": catalog_admin.format_price(product.price_pence),
                "stock": product.stock_qty,
                "stock_was": str(product.stock_qty),
                "category": str(product.category_id or ""),
                "active": product.active,
            }
        )
    elif form.validate():
        try:
            catalog_admin.update_product(
                db.session,
                audit.Actor.of(current_user),
                product_id,
                form.values(),
                stock_was=form.stock_before(),
            )
        except CatalogAdminError as exc:
            db.session.rollback()
            _field_error(form, exc)
        else:
            db.session.commit()
            flash(f"Saved {product.sku}.", "success")
            return redirect(url_for(".edit", product_id=product_id))
    status = 400 if form.is_submitted() else 200
    return render_template("console/products/edit.html", form=form, product=product), status


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
    """Download the catalogue as CSV (sku,name,description,category,price,stock,active)."""
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
