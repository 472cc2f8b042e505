"""Cart pages: view, add, change quantity, remove."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from werkzeug import Response

from shop import personalization
from shop.cart import services
from shop.cart.forms import AddToCartForm, PromoCodeForm, RemoveLineForm, UpdateLineForm
from shop.catalog.services import NotFoundError, get_product
from shop.catalog.views import render_product_page
from shop.checkout.destination import delivery_country
from shop.checkout.pricing import HOME_COUNTRY, CheckoutSettings
from shop.checkout.services import quote
from shop.db import db, utcnow
from shop.form_fields import ShopForm
from shop.promotions import codes
from shop.rate_limits import post_limit
from shop.tracking.recorder import record
from shop.web_context import cart_owner, catalogue_viewer

bp = Blueprint("cart", __name__, url_prefix="/cart")


def _product_id(raw: str | None) -> int:
    if not raw or not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
        abort(400, "That product reference is not valid.")
    return int(raw)


def _render_cart(
    status: int = 200,
    errors: dict[int, str] | None = None,
    typed: dict[int, str] | None = None,
    promo_form: PromoCodeForm | None = None,
) -> tuple[str, int]:
    """The cart page; `errors` and `typed` hold a refused line's message and what was typed
    there, and `promo_form` a refused discount code, shown again so the shopper can correct
    it."""
    settings = CheckoutSettings.from_config(current_app.config)
    # Priced as the checkout will price it: standard delivery and any member benefits.
    owner = cart_owner()
    country = delivery_country(db.session, owner.user_id)
    priced = quote(db.session, owner, settings, "standard", country=country)
    cart = priced.cart
    forms = {
        line.product.id: UpdateLineForm(product_id=line.product.id, quantity=line.quantity)
        for line in cart.lines
    }
    return render_template(
        "shop/cart.html",
        cart=cart,
        forms=forms,
        remove_form=RemoveLineForm(),
        form=promo_form or PromoCodeForm(formdata=None),  # base.html sums its errors up
        promo=priced.promo,
        errors=errors or {},
        field_errors=[
            (f"qty-{line.product.id}", f"Quantity of {line.product.name}")
            for line in cart.lines
            if errors and line.product.id in errors
        ],
        typed=typed or {},
        shipping=priced.shipping,
        totals=priced.totals,
        benefits=priced.benefits,
        free_shipping_gap=0
        if priced.benefits.free_shipping or priced.totals.free_shipping
        else settings.rates(country).free_threshold_pence - cart.subtotal_pence,
        delivery_to=country,
        home_country=HOME_COUNTRY,
        together=personalization.service().for_cart(
            db.session,
            personalization.current_shopper(),
            [line.product.id for line in cart.lines],
        ),
    ), status


@bp.get("")
def show() -> tuple[str, int]:
    """The cart with lines and subtotal."""
    return _render_cart()


@bp.post("/add")
def add() -> Response | tuple[str, int]:
    """Add a product; on bad input, show the product page again with the reason."""
    form = AddToCartForm()
    product_id = _product_id(form.product_id.data)
    error = "; ".join(form.quantity.errors) if not form.validate_on_submit() else None
    if error is None:
        try:
            line = services.add_item(
                db.session,
                cart_owner(),
                product_id,
                form.quantity.data,
                current_app.config["MAX_CART_LINE_QTY"],
                rec_id=personalization.clicked_from(product_id),
            )
        except services.CartError as exc:
            db.session.rollback()
            error = str(exc)
    if error is not None:
        try:
            product = get_product(db.session, product_id, catalogue_viewer())
        except NotFoundError as exc:
            abort(404, str(exc))
        form.quantity.errors = [error]
        return render_product_page(product, form), 400
    db.session.commit()
    record(
        "cart_add",
        product_id=product_id,
        quantity=form.quantity.data,
        rec_id=line.rec_id,
    )
    flash(f"Added {form.quantity.data} of {line.product.name} to your cart.", "success")
    return redirect(url_for("cart.show"))


@bp.post("/update")
def update() -> Response | tuple[str, int]:
    """Change a line's quantity."""
    form = UpdateLineForm()
    product_id = _product_id(form.product_id.data)
    typed = {product_id: str((form.quantity.raw_data or [""])[0])[:20]}
    if not form.validate_on_submit():
        return _render_cart(400, {product_id: "; ".join(form.quantity.errors)}, typed)
    try:
        services.set_quantity(
            db.session,
            cart_owner(),
            product_id,
            form.quantity.data,
            current_app.config["MAX_CART_LINE_QTY"],
        )
    except services.CartError as exc:
        db.session.rollback()
        return _render_cart(400, {product_id: str(exc)}, typed)
    db.session.commit()
    flash("Your cart was updated.", "success")
    return redirect(url_for("cart.show"))


@bp.post("/promo")
@post_limit("PROMO_CODE_RATE_LIMIT")
def apply_promo() -> Response | tuple[str, int]:
    """Put a discount code on the cart; a code that cannot be used is refused with why."""
    form = PromoCodeForm()
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:
            abort(400, "The form expired; please enter the code again.")
        return _render_cart(400, promo_form=form)
    settings = CheckoutSettings.from_config(current_app.config)
    try:
        found = codes.apply_code(
            db.session, cart_owner(), form.code.data or "", now=utcnow(), currency=settings.currency
        )
    except codes.PromoError as exc:
        db.session.rollback()
        form.code.errors = [str(exc)]
        return _render_cart(400, promo_form=form)
    db.session.commit()
    if found.below_minimum:
        flash(f"The code {found.code} is saved. {found.problem}", "info")
    else:
        flash(f"The code {found.code} is applied: {found.label.lower()}.", "success")
    return redirect(url_for("cart.show"))


@bp.post("/promo/remove")
def remove_promo() -> Response:
    """Take the discount code off the cart."""
    if not ShopForm().validate_on_submit():
        abort(400, "The form expired; please try again.")
    removed = codes.remove_code(db.session, cart_owner())
    db.session.commit()
    if removed:
        flash(f"The code {removed} was removed.", "success")
    return redirect(url_for("cart.show"))


@bp.post("/remove")
def remove() -> Response:
    """Remove a line from the cart."""
    form = RemoveLineForm()
    product_id = _product_id(form.product_id.data)
    if not form.validate_on_submit():
        abort(400)
    if services.remove_item(db.session, cart_owner(), product_id):
        db.session.commit()
        record("cart_remove", product_id=product_id)
        flash("The item was removed from your cart.", "success")
    return redirect(url_for("cart.show"))
