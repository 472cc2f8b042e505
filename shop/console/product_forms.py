"""Forms of the console's product pages: filters, edit/create and CSV import."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    Field,
    HiddenField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from shop.catalog.models import Category
from shop.console import catalog_admin
from shop.console.catalog_admin import MAX_STOCK, STOCK_FILTERS, ProductValues
from shop.db import ID_MAX
from shop.form_fields import (
    DATE_TIME_FORMATS,
    ShopForm,
    WholeNumberField,
    strip,
    within_date_range,
)


def category_choices(cats: list[Category], blank: str) -> dict[str, str]:
    """Select choices for categories by id (value -> label), with a blank first choice."""
    return {"": blank} | {str(c.id): f"{c.name} ({c.slug})" for c in cats}


class ProductFilterForm(ShopForm):
    """The product list's filters (a GET form: no CSRF token)."""

    class Meta:
        csrf = False

    q = StringField("Name or SKU", filters=[strip], validators=[Optional(), Length(max=100)])
    category = SelectField("Category", choices={"": "Any"}, default="")
    active = SelectField("Active", choices={"": "Any", "yes": "Yes", "no": "No"}, default="")
    stock = SelectField("Stock", choices={"": "Any", **STOCK_FILTERS}, default="")

    def filters(self) -> catalog_admin.ProductFilters:
        """The validated filters for the catalogue service."""
        return catalog_admin.ProductFilters(
            q=self.q.data or "",
            category_id=int(self.category.data) if self.category.data else None,
            active={"yes": True, "no": False}.get(self.active.data or ""),
            stock=self.stock.data or None,
        )


def _price(_form: ShopForm, field: Field) -> None:
    try:
        field.pence = catalog_admin.parse_price(field.data or "")
    except ValueError as exc:
        raise ValidationError(f"{exc}.") from exc


class ProductForm(ShopForm):
    """Edit a product's details; prices are typed in pounds (2.95) and stored in pence."""

    name = StringField(
        "Name", filters=[strip], validators=[DataRequired("Enter a name."), Length(max=200)]
    )
    description = TextAreaField("Description", validators=[Optional(), Length(max=5000)])
    price = StringField(
        "Price (£)", filters=[strip], validators=[DataRequired("Enter a price."), _price]
    )
    stock = WholeNumberField(
        "Stock",
        validators=[
            InputRequired("Enter the stock, a whole number."),
            NumberRange(min=0, max=MAX_STOCK, message=f"Use a whole number from 0 to {MAX_STOCK}."),
        ],
    )
    # The product as this form showed it (JSON), so a save can tell whether it changed since.
    opened = HiddenField()
    category = SelectField("Category", choices={"": "None"}, default="")
    active = BooleanField("Active (on sale in the shop)")
    launches_at = DateTimeLocalField(
        "Launches at (UTC)",
        format=DATE_TIME_FORMATS,
        validators=[Optional(), within_date_range],
        invalid_value_message="Enter a date and time, such as 2026-12-01 09:00.",
    )

    def values(self) -> ProductValues:
        """The validated values for the catalogue service."""
        return ProductValues(
            name=self.name.data or "",
            # Browsers send a textarea's line breaks as CR LF: stored text has LF only.
            description=_lf_lines(self.description.data or "").strip(),
            price_pence=self.price.pence,  # type: ignore[attr-defined]
            stock_qty=int(self.stock.data or 0),
            category_id=int(self.category.data) if self.category.data else None,
            active=bool(self.active.data),
            launches_at=catalog_admin.to_the_minute(self.launches_at.data),
        )

    def opened_values(self) -> ProductValues | None:
        """The product as the form was opened, or None if that did not come back intact."""
        return values_from_token(self.opened.data or "")


def _lf_lines(text: str) -> str:
    """Text with CR LF and lone CR line breaks as LF."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def opened_token(values: ProductValues) -> str:
    """A product's editable fields as the text of an edit form's `opened` field.

    JSON escapes line breaks and control characters, so the text comes back from the browser
    exactly as sent (a browser submits a raw line break in a hidden field as CR LF).
    """
    return json.dumps(
        {
            "name": values.name,
            "description": values.description,
            "price_pence": values.price_pence,
            "stock_qty": values.stock_qty,
            "category_id": values.category_id,
            "active": values.active,
            "launches_at": values.launches_at.isoformat() if values.launches_at else None,
        },
        separators=(",", ":"),
    )


def values_from_token(text: str) -> ProductValues | None:
    """The ProductValues of an `opened` field's text, or None if it is not one."""
    try:
        data: Any = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    name, description = data.get("name"), data.get("description")
    price, stock = data.get("price_pence"), data.get("stock_qty")
    category_id, active = data.get("category_id"), data.get("active")
    try:
        launches_at = _moment(data.get("launches_at"))
    except ValueError:
        return None
    if not (
        _stored_text(name)
        and _stored_text(description)
        and _whole(price)
        and _whole(stock)
        and (category_id is None or _whole(category_id))
        and isinstance(active, bool)
    ):
        return None
    return ProductValues(name, description, price, stock, category_id, active, launches_at)


def _moment(value: object) -> datetime | None:
    """A naive UTC time in ISO form (or None) from a token; ValueError when it is not one."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("not a time")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is not None:
        raise ValueError("not a naive UTC time")
    return moment


def _whole(value: object) -> bool:
    # An int that fits an INTEGER column: an edited field must not crash the query.
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= ID_MAX


def _stored_text(value: object) -> bool:
    if not isinstance(value, str) or "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a "\\ud800" escape
        return False
    return True


class NewProductForm(ProductForm):
    """Create a product: the edit fields plus a SKU that no other product has."""

    opened = None  # type: ignore[assignment]  # nothing to have changed yet

    sku = StringField(
        "SKU", filters=[strip], validators=[DataRequired("Enter a SKU."), Length(max=40)]
    )


class ImportForm(ShopForm):
    """Upload a catalogue CSV."""

    file = FileField("CSV file", validators=[FileRequired("Choose a CSV file to upload.")])
