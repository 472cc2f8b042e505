"""Server-side carts: add, change, remove and merge. Prices always come from the catalogue."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from shop.cart.models import Cart, CartItem
from shop.catalog.availability import is_launched_for, viewer_for
from shop.catalog.models import Product
from shop.db import utcnow
from shop.orders import states
from shop.orders.holds import release_expired
from shop.orders.models import Order, OrderLine

DEFAULT_MAX_QTY = 999


class CartError(ValueError):
    """A cart change that cannot be made; the message is safe to show to the shopper."""


@dataclass(frozen=True)
class CartOwner:
    """Whose cart: a signed-in user, or an anonymous visitor id."""

    user_id: int | None = None
    visitor_id: str | None = None

    def __post_init__(self) -> None:
        if (self.user_id is None) == (self.visitor_id is None):
            raise ValueError("a cart owner is exactly one of user_id or visitor_id")

    def clause(self):  # type: ignore[no-untyped-def]
        """The WHERE clause selecting this owner's cart."""
        if self.user_id is not None:
            return Cart.user_id == self.user_id
        return Cart.visitor_id == self.visitor_id


@dataclass(frozen=True)
class CartLine:
    """A cart line priced from the catalogue."""

    product: Product
    quantity: int
    held_for_owner: int = 0  # units the owner's own unpaid order holds: still theirs to buy
    rec_id: str | None = None  # the recommendation list it was last added from
    on_sale_from: datetime | None = None  # set while it is not on sale to the owner yet

    @property
    def line_total_pence(self) -> int:
        """Unit price times quantity, in pence."""
        return self.product.price_pence * self.quantity

    @property
    def problem(self) -> str | None:
        """Why the line cannot be bought as it is (no longer sold, sold out, short of
        stock), or None. Checkout refuses such a cart; this says so before it does."""
        stock = self.product.stock_qty + self.held_for_owner
        if not self.product.active:
            return "No longer sold: remove it to check out."
        if self.on_sale_from is not None:
            when = self.on_sale_from.strftime("%d %B %Y, %H:%M")
            return f"Not on sale yet (from {when} UTC): remove it to check out."
        if stock <= 0:
            return "Sold out: remove it to check out."
        if self.quantity > stock:
            return f"Only {stock} left: lower the quantity to check out."
        return None


@dataclass(frozen=True)
class CartView:
    """What the cart page shows."""

    lines: list[CartLine] = field(default_factory=list)
    currency: str = "GBP"
    promo_code: str | None = None  # the discount code entered (checked when priced)

    @property
    def subtotal_pence(self) -> int:
        """Sum of the line totals, in pence."""
        return sum(line.line_total_pence for line in self.lines)

    @property
    def item_count(self) -> int:
        """Number of units in the cart."""
        return sum(line.quantity for line in self.lines)

    @property
    def has_problems(self) -> bool:
        """True when a line cannot be bought as it is (see `CartLine.problem`)."""
        return any(line.problem for line in self.lines)


def _cart(session: Session, owner: CartOwner, *, create: bool) -> Cart | None:
    """The owner's cart (made when `create`), its row locked until the transaction ends.

    Two changes of one cart (a double click, two tabs) then take turns, so the second
    counts what the first added; a cart the other request made a moment ago is used.
    """
    mine = (
        select(Cart)
        .where(owner.clause())
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    cart = session.scalar(mine)
    if cart is None and create:
        try:
            with session.begin_nested():
                cart = Cart(user_id=owner.user_id, visitor_id=owner.visitor_id)
                session.add(cart)
        except IntegrityError:
            cart = session.scalar(mine)
    return cart


def lock_cart(session: Session, owner: CartOwner) -> None:
    """Make other changes of the owner's cart, and other checkouts of it, wait until this
    transaction ends (a cart not made yet locks nothing)."""
    _cart(session, owner, create=False)


def _check_quantity(quantity: int, max_qty: int) -> None:
    if quantity < 1:
        raise CartError("Quantity must be at least 1. To take an item out, use Remove.")
    if quantity > max_qty:
        raise CartError(f"You can order at most {max_qty} of one item.")


def _sellable(
    session: Session, owner: CartOwner, product_id: int, wanted: int
) -> tuple[Product, int]:
    """The product and how many of it the owner may have in their cart: the free stock
    plus what their own unpaid order holds (the same figure the cart page checks).

    When that is short of `wanted`, holds on the product that have run out are released
    first: the release job may not have come round yet, and they hold nothing any more.
    """
    product = session.get(Product, product_id)
    if product is None or not product.active:
        raise CartError("That product is not available.")
    if not is_launched_for(product, viewer_for(session, owner.user_id)):
        raise CartError("That product is not on sale yet.")

    def available_now() -> int:
        return product.stock_qty + _held_for(session, owner, [product.id]).get(product.id, 0)

    available = available_now()
    if available < wanted and release_expired(session, product_ids=[product.id]):
        session.refresh(product, ["stock_qty"])
        available = available_now()
    if available < 1:
        raise CartError(f"Sorry, {product.name} is out of stock.")
    return product, available


def _check_stock(product: Product, available: int, quantity: int, in_cart: int = 0) -> None:
    """Refuse `quantity` over `available`; `in_cart` is what the cart holds already when
    the shopper adds more, which the message then mentions."""
    if quantity <= available:
        return
    are = "is" if available == 1 else "are"
    if in_cart:
        message = f"You already have {in_cart} in your cart; only {available} {are} in stock."
        if in_cart < available:
            message += f" You can add {available - in_cart} more."
        raise CartError(message)
    raise CartError(f"Only {available} of {product.name} left in stock.")


def item_count(session: Session, owner: CartOwner) -> int:
    """Number of units in the owner's cart (for the cart badge)."""
    total = session.scalar(select(func.sum(CartItem.quantity)).join(Cart).where(owner.clause()))
    return int(total or 0)


def view_cart(session: Session, owner: CartOwner, currency: str = "GBP") -> CartView:
    """The owner's cart lines with current catalogue prices."""
    cart = session.scalar(select(Cart).options(selectinload(Cart.items)).where(owner.clause()))
    if cart is None:
        return CartView(currency=currency)
    products = _products_by_id(session, [i.product_id for i in cart.items])
    held = _held_for(session, owner, list(products))
    viewer = viewer_for(session, owner.user_id)
    lines = [
        CartLine(
            products[i.product_id],
            i.quantity,
            held.get(i.product_id, 0),
            i.rec_id,
            on_sale_from=(
                None
                if is_launched_for(products[i.product_id], viewer)
                else products[i.product_id].launches_at
            ),
        )
        for i in cart.items
    ]
    return CartView(lines, currency, cart.promo_code)


def _holding(owner: CartOwner):  # type: ignore[no-untyped-def]
    """The WHERE clause of the owner's own unpaid orders that hold stock (a guest's are
    those of their visitor id placed while signed out)."""
    mine = (
        Order.user_id == owner.user_id
        if owner.user_id is not None
        else (Order.visitor_id == owner.visitor_id) & Order.user_id.is_(None)
    )
    return mine & (Order.status == states.PENDING_PAYMENT) & Order.stock_reserved.is_(True)


def _products_by_id(session: Session, product_ids: list[int]) -> dict[int, Product]:
    """These products by id, in one query (missing ones are absent)."""
    if not product_ids:
        return {}
    return {p.id: p for p in session.scalars(select(Product).where(Product.id.in_(product_ids)))}


def _held_for(session: Session, owner: CartOwner, product_ids: list[int]) -> dict[int, int]:
    """Units of these products held for the owner's own unpaid orders, by product."""
    if not product_ids:
        return {}
    rows = session.execute(
        select(OrderLine.product_id, func.sum(OrderLine.quantity))
        .join(Order, Order.id == OrderLine.order_id)
        .where(_holding(owner), OrderLine.product_id.in_(product_ids))
        .group_by(OrderLine.product_id)
    )
    return {int(product_id): int(units) for product_id, units in rows}


def orders_holding(session: Session, owner: CartOwner, product_id: int) -> list[Order]:
    """The owner's own unpaid orders holding units of a product, newest first: the units
    the cart counts as still theirs to buy (see `CartLine.held_for_owner`)."""
    return list(
        session.scalars(
            select(Order)
            .where(
                _holding(owner),
                Order.id.in_(select(OrderLine.order_id).where(OrderLine.product_id == product_id)),
            )
            .order_by(Order.placed_at.desc(), Order.id.desc())
        )
    )


def add_item(
    session: Session,
    owner: CartOwner,
    product_id: int,
    quantity: int,
    max_qty: int = DEFAULT_MAX_QTY,
    rec_id: str | None = None,
) -> CartLine:
    """Add units of a product; raise CartError for bad quantities or unavailable stock.

    `rec_id` is the recommendation list the shopper added it from; the last addition
    decides, so adding it again some other way takes the credit away from the list."""
    _check_quantity(quantity, max_qty)
    cart = _cart(session, owner, create=True)
    assert cart is not None
    item = session.scalar(
        select(CartItem).where(CartItem.cart_id == cart.id, CartItem.product_id == product_id)
    )
    in_cart = item.quantity if item else 0
    new_quantity = quantity + in_cart
    product, available = _sellable(session, owner, product_id, wanted=new_quantity)
    _check_quantity(new_quantity, max_qty)
    _check_stock(product, available, new_quantity, in_cart)
    if item is None:
        item = CartItem(cart_id=cart.id, product_id=product.id, quantity=new_quantity)
        session.add(item)
    else:
        item.quantity = new_quantity
    item.rec_id = rec_id
    cart.updated_at = utcnow()  # when a visitor's cart was last changed (shop/retention.py)
    session.flush()
    return CartLine(product, new_quantity, available - product.stock_qty, rec_id)


def room_for(
    session: Session, owner: CartOwner, product_id: int, wanted: int, max_qty: int
) -> tuple[int, int]:
    """(how many more units of the product the owner's cart can take now, up to `wanted`;
    how many it holds already). The first is what is in stock for them, less what the cart
    holds, within the line limit; 0 when the product is not on sale."""
    in_cart = (
        session.scalar(
            select(CartItem.quantity)
            .join(Cart)
            .where(owner.clause(), CartItem.product_id == product_id)
        )
        or 0
    )
    try:
        _product, available = _sellable(session, owner, product_id, wanted=wanted + in_cart)
    except CartError:
        return 0, in_cart
    return max(min(wanted, min(available, max_qty) - in_cart), 0), in_cart


def set_quantity(
    session: Session,
    owner: CartOwner,
    product_id: int,
    quantity: int,
    max_qty: int = DEFAULT_MAX_QTY,
) -> CartLine:
    """Change the quantity of a line already in the cart."""
    _check_quantity(quantity, max_qty)
    cart = _cart(session, owner, create=False)
    item = None
    if cart is not None:
        item = session.scalar(
            select(CartItem).where(CartItem.cart_id == cart.id, CartItem.product_id == product_id)
        )
    if item is None:
        raise CartError("That item is not in your cart.")
    product, available = _sellable(session, owner, product_id, wanted=quantity)
    _check_stock(product, available, quantity)
    item.quantity = quantity
    assert cart is not None
    cart.updated_at = utcnow()
    session.flush()
    return CartLine(product, quantity, available - product.stock_qty)


def remove_item(session: Session, owner: CartOwner, product_id: int) -> bool:
    """Take a product out of the cart; return whether it was there."""
    cart = _cart(session, owner, create=False)
    if cart is None:
        return False
    result = session.execute(
        delete(CartItem).where(CartItem.cart_id == cart.id, CartItem.product_id == product_id)
    )
    cart.updated_at = utcnow()
    return bool(result.rowcount)


@dataclass(frozen=True)
class CartMerge:
    """What moving a visitor's cart into an account did: lines merged, and what the
    shopper should be told about lines that could not come along whole."""

    merged: int = 0
    notes: list[str] = field(default_factory=list)


def merge_visitor_cart(
    session: Session, visitor_id: str, user_id: int, max_qty: int = DEFAULT_MAX_QTY
) -> CartMerge:
    """Move a visitor's cart into the account's cart at sign-in.

    Quantities add up, capped by the per-line maximum and by the free stock plus what the
    account's own unpaid orders hold; lines no longer for sale are left out, and each cap
    or left-out line gets a note for the shopper. The visitor cart's discount code comes
    along unless the account's cart has one. The visitor cart is removed.
    """
    visitor_cart = _cart(session, CartOwner(visitor_id=visitor_id), create=False)
    if visitor_cart is None:
        return CartMerge()
    user_cart = _cart(session, CartOwner(user_id=user_id), create=True)
    assert user_cart is not None
    existing = {item.product_id: item for item in user_cart.items}
    viewer = viewer_for(session, user_id)
    wanted_ids = [i.product_id for i in visitor_cart.items]
    held = _held_for(session, CartOwner(user_id=user_id), wanted_ids)
    # Read up front: a lookup inside the loop would flush the line added just before it.
    products = _products_by_id(session, wanted_ids)
    merged, notes = 0, []
    added: list[dict[str, object]] = []
    for item in list(visitor_cart.items):
        product = products.get(item.product_id)
        if product is None:
            continue
        available = product.stock_qty + held.get(product.id, 0)
        if not product.active:
            notes.append(f"{product.name} is no longer sold, so it is no longer in your cart.")
            continue
        if not is_launched_for(product, viewer):
            notes.append(f"{product.name} is not on sale yet, so it is no longer in your cart.")
            continue
        if available < 1:
            notes.append(f"{product.name} is sold out, so it is no longer in your cart.")
            continue
        target = existing.get(item.product_id)
        wanted = item.quantity + (target.quantity if target else 0)
        quantity = min(wanted, max_qty, available)
        if quantity < wanted:
            notes.append(
                f"Only {available} of {product.name} {'is' if available == 1 else 'are'} in "
                f"stock, so your cart has {quantity}."
                if quantity == available
                else f"You can order at most {max_qty} of one item, so your cart has "
                f"{quantity} of {product.name}."
            )
        if target is None:
            added.append(
                {
                    "cart_id": user_cart.id,
                    "product_id": item.product_id,
                    "quantity": quantity,
                    "rec_id": item.rec_id,
                }
            )
        else:
            target.quantity = quantity
            target.rec_id = item.rec_id  # this visit's addition is the later one: it decides
        merged += 1
    if added:
        # One multi-row insert: the ORM writes new rows one statement each on SQLite.
        session.execute(insert(CartItem), added)
        session.expire(user_cart, ["items"])
    if user_cart.promo_code is None:  # the code typed before signing in comes along
        user_cart.promo_code = visitor_cart.promo_code
    session.delete(visitor_cart)
    session.flush()
    return CartMerge(merged, notes)


def remove_bought(session: Session, order: Order) -> None:
    """Take what an order bought out of the cart it was placed from.

    Only the quantities bought are subtracted, so units of the same product added later
    (in another tab, while the order waited for payment) stay; a line goes when nothing
    of it is left, and the order's discount code goes with it. The cart is the account's
    for a member's order and the visitor's for a guest's.
    """
    if order.user_id is not None:
        owner = CartOwner(user_id=order.user_id)
    elif order.visitor_id:
        owner = CartOwner(visitor_id=order.visitor_id)
    else:
        return
    cart_id = session.scalar(select(Cart.id).where(owner.clause()))
    if cart_id is None:
        return
    bought: dict[int, int] = {}
    for line in order.lines:
        if line.product_id is not None:
            bought[line.product_id] = bought.get(line.product_id, 0) + line.quantity
    for product_id, quantity in sorted(bought.items()):
        where = (CartItem.cart_id == cart_id, CartItem.product_id == product_id)
        session.execute(
            update(CartItem)
            .where(*where)
            .values(quantity=CartItem.quantity - quantity)
            .execution_options(synchronize_session=False)
        )
        session.execute(
            delete(CartItem)
            .where(*where, CartItem.quantity <= 0)
            .execution_options(synchronize_session=False)
        )
    if order.promo_code:  # the code was spent on this order
        session.execute(
            update(Cart)
            .where(Cart.id == cart_id, Cart.promo_code == order.promo_code)
            .values(promo_code=None)
            .execution_options(synchronize_session=False)
        )
