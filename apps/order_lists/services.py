"""Order list writes: the list, its lines from any source (same line report as the order builder)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction

from apps.accounts.models import Membership
from apps.catalog.models import Product
from apps.catalog.selectors import products_by_sku
from apps.catalog.services import quantity_problem
from apps.order_lists.exceptions import OrderListError, OrderListReadOnly
from apps.order_lists.models import OrderList, OrderListLine
from apps.order_lists.selectors import (
    LIST_KEEPERS,
    order_list_can_edit,
    order_list_can_manage,
    order_list_can_send,
    order_list_get,
)
from apps.pricing.selectors import price_resolve_many
from apps.purchase_orders.adding import AddReport, WantedLine, draft_lines_add_checked
from apps.purchase_orders.lines import NOTE_LENGTH, LineReport, ParsedLine
from apps.purchase_orders.quantities import (
    MAX_QUANTITY,
    NOT_A_NUMBER,
    TOO_LARGE,
    QuantityError,
    quantity_checked,
)
from apps.purchase_orders.services import AddResult

NAME_LENGTH = 100


def _clean_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise OrderListError("Give the list a name.")
    if len(name) > NAME_LENGTH:
        raise OrderListError(f"A list name has at most {NAME_LENGTH} characters.")
    return name


def _save_named(order_list: OrderList, fields: list[str] | None = None) -> None:
    try:
        with transaction.atomic():
            order_list.save(update_fields=fields)
    except IntegrityError as exc:
        raise OrderListError(f"You already have a list called {order_list.name}.") from exc


@transaction.atomic
def order_list_create(
    *,
    membership: Membership,
    name: str,
    visibility: str = OrderList.Visibility.PRIVATE,
    colleagues_can_edit: bool = False,
) -> OrderList:
    if membership.role not in LIST_KEEPERS:
        raise OrderListError("Only buyers and company admins keep order lists.")
    if visibility not in OrderList.Visibility.values:
        raise OrderListError("Choose who sees the list.")
    order_list = OrderList(
        company_id=membership.company_id,
        owner_id=membership.user_id,
        name=_clean_name(name),
        visibility=visibility,
        colleagues_can_edit=colleagues_can_edit and visibility == OrderList.Visibility.COMPANY,
    )
    _save_named(order_list)
    return order_list


def _locked(order_list: OrderList, membership: Membership) -> OrderList:
    """The list row locked, re-read through the member's view of lists (it may have turned private)."""
    OrderList.objects.select_for_update().filter(pk=order_list.pk).first()
    try:
        return order_list_get(membership=membership, list_id=order_list.pk)
    except OrderList.DoesNotExist as exc:
        raise OrderListError("That list is no longer shared with you.") from exc


@transaction.atomic
def order_list_settings_update(
    *, order_list: OrderList, membership: Membership, name: str, visibility: str, colleagues_can_edit: bool
) -> OrderList:
    order_list = _locked(order_list, membership)
    if not order_list_can_manage(order_list=order_list, membership=membership):
        raise OrderListReadOnly("Only the list's owner renames, shares or deletes it.")
    if visibility not in OrderList.Visibility.values:
        raise OrderListError("Choose who sees the list.")
    order_list.name = _clean_name(name)
    order_list.visibility = visibility
    order_list.colleagues_can_edit = colleagues_can_edit and visibility == OrderList.Visibility.COMPANY
    _save_named(order_list, ["name", "visibility", "colleagues_can_edit", "updated_at"])
    return order_list


@transaction.atomic
def order_list_delete(*, order_list: OrderList, membership: Membership) -> None:
    order_list = _locked(order_list, membership)
    if not order_list_can_manage(order_list=order_list, membership=membership):
        raise OrderListReadOnly("Only the list's owner renames, shares or deletes it.")
    order_list.delete()


def _editable(order_list: OrderList, membership: Membership) -> OrderList:
    order_list = _locked(order_list, membership)
    if not order_list_can_edit(order_list=order_list, membership=membership):
        raise OrderListReadOnly(f"The list {order_list.name} is read-only for you.")
    return order_list


def _quantity_refusal(product: Product, quantity: Decimal) -> str:
    if not quantity.is_finite() or quantity > MAX_QUANTITY:
        return f"quantity {quantity.normalize():,f} is too large (at most {MAX_QUANTITY:,})"
    return quantity_problem(product, quantity)


@transaction.atomic
def order_list_lines_add(
    *, order_list: OrderList, membership: Membership, lines: Iterable[ParsedLine]
) -> AddResult:
    """Add lines (from a file, a paste, the catalog, a draft, an order, an invoice): unknown SKUs, products
    no longer sold and quantities against the product's rules are refused line by line, with the reason;
    a product already on the list (or twice in the input) is merged into one line; the rest is kept, with
    today's price for this company as the price when added. A constant number of queries, whatever the
    number of lines (so a 5,000-line file is added while the buyer waits)."""
    order_list = _editable(order_list, membership)
    wanted = list(lines)
    products = products_by_sku(line.sku for line in wanted)
    existing = {line.product_id: line for line in order_list.lines.select_for_update()}
    new_lines: dict[int, OrderListLine] = {}
    changed: dict[int, OrderListLine] = {}
    report: list[LineReport] = []
    added = merged = 0
    for line in wanted:
        product = products.get(line.sku.upper())
        if product is None:
            report.append(LineReport(line.line, False, f"{line.sku}: unknown SKU", "unknown SKU"))
            continue
        if not product.is_active:
            report.append(LineReport(line.line, False, f"{line.sku}: no longer sold", "no longer sold"))
            continue
        try:
            if not line.quantity.is_finite():
                raise QuantityError(f"quantity {line.quantity} is not a number", NOT_A_NUMBER)
            quantity_checked(line.quantity, f"{line.quantity.normalize():f}")
        except QuantityError as exc:
            report.append(LineReport(line.line, False, f"{product.sku}: {exc}", exc.kind))
            continue
        current = existing.get(product.pk)
        quantity = line.quantity + (current.default_quantity if current else Decimal(0))
        problem = _quantity_refusal(product, quantity)
        if problem:
            kind = TOO_LARGE if "too large" in problem else "against the product's ordering rules"
            report.append(
                LineReport(
                    line.line, False, f"{product.sku}: {problem} (asked {quantity.normalize():f})", kind
                )
            )
            continue
        if current is None:
            current = OrderListLine(
                order_list=order_list,
                product=product,
                default_quantity=quantity,
                note=line.note[:NOTE_LENGTH],
                added_by_id=membership.user_id,
            )
            existing[product.pk] = new_lines[product.pk] = current
            added += 1
            report.append(
                LineReport(line.line, True, f"{product.sku}: {quantity.normalize():f} added", "added")
            )
        else:
            current.default_quantity = quantity
            current.note = current.note or line.note[:NOTE_LENGTH]
            if current.pk is not None:
                changed[product.pk] = current
            merged += 1
            report.append(
                LineReport(line.line, True, f"{product.sku}: merged, now {quantity.normalize():f}", "merged")
            )
    if new_lines:
        quotes = price_resolve_many(
            account=order_list.company,
            products=[new.product for new in new_lines.values()],
            quantity={new.product.pk: new.default_quantity for new in new_lines.values()},
        )
        for new in new_lines.values():
            quote = quotes[new.product.pk]
            new.price_when_added, new.currency = quote.unit_price, quote.currency
    OrderListLine.objects.bulk_create(new_lines.values())
    OrderListLine.objects.bulk_update(changed.values(), ["default_quantity", "note"])
    if new_lines or changed:
        order_list.save(update_fields=["updated_at"])
    return AddResult(added, merged, report)


def _line_locked(order_list: OrderList, membership: Membership, line_id: int) -> OrderListLine:
    order_list = _editable(order_list, membership)
    line = (
        OrderListLine.objects.select_for_update()
        .select_related("product")
        .filter(pk=line_id, order_list=order_list)
        .first()
    )
    if line is None:
        raise OrderListError("No such line on this list.")
    return line


@transaction.atomic
def order_list_line_update(
    *, order_list: OrderList, membership: Membership, line_id: int, quantity: Decimal, note: str | None = None
) -> OrderListLine:
    """A line's default quantity (and note), within the ordering rules; a refusal changes nothing."""
    line = _line_locked(order_list, membership, line_id)
    sku = line.product.sku
    try:
        quantity = quantity_checked(quantity, f"{quantity.normalize():f}")
    except QuantityError as exc:
        raise OrderListError(f"{sku}: {exc}.") from exc
    problem = quantity_problem(line.product, quantity)
    if problem:
        raise OrderListError(f"{sku}: {problem}.")
    line.default_quantity = quantity
    fields = ["default_quantity"]
    if note is not None:
        note = note.strip()
        if len(note) > NOTE_LENGTH:
            raise OrderListError(f"{sku}: a note has at most {NOTE_LENGTH} characters.")
        line.note = note
        fields.append("note")
    line.save(update_fields=fields)
    return line


@transaction.atomic
def order_list_line_remove(*, order_list: OrderList, membership: Membership, line_id: int) -> OrderListLine:
    line = _line_locked(order_list, membership, line_id)
    line.delete()
    return line


def lines_from(rows: Iterable[tuple[str, Decimal, str]]) -> list[ParsedLine]:
    """(SKU, quantity, note) rows of a draft, an order or an invoice as numbered input lines."""
    return [ParsedLine(number, sku, quantity, note) for number, (sku, quantity, note) in enumerate(rows, 1)]


@dataclass(frozen=True)
class SendResult:
    report: AddReport
    missing: int  # ticked lines no longer on the list (removed by a colleague meanwhile)


def order_list_send(
    *, order_list: OrderList, membership: Membership, line_ids: Sequence[int] | None = None
) -> SendResult:
    """The whole list (``line_ids`` None) or the ticked lines to the member's own draft, each re-checked
    as of now by the draft's line engine: refused lines are reported with why, the others added, each
    with the price it had when it was put on the list."""
    if not order_list_can_send(order_list=order_list, membership=membership):
        raise OrderListReadOnly("Only buyers and company admins send lists to a draft.")
    lines = order_list.lines.select_related("product").order_by("id")
    missing = 0
    if line_ids is not None:
        wanted_ids = set(line_ids)
        if not wanted_ids:
            raise OrderListError("Tick the lines to send, or send the whole list.")
        lines = lines.filter(pk__in=wanted_ids)
    chosen = list(lines)
    if line_ids is not None:
        missing = len(set(line_ids)) - len(chosen)
    if not chosen:
        raise OrderListError("There are no lines to send.")
    wanted = [
        WantedLine(
            product=line.product,
            sku=line.product.sku,
            quantity=line.default_quantity,
            note=line.note,
            price_then=line.price_when_added,
            source=f"list {order_list.name}",
            description=line.product.name,
        )
        for line in chosen
    ]
    report = draft_lines_add_checked(company=order_list.company, buyer=membership.user, lines=wanted)
    return SendResult(report, missing)
