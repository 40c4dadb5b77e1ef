"""Lines wanted on the buyer's draft, from anywhere (a past order, an invoice, a list): each one re-checked
as of now and answered, added or refused with why; never silently dropped.

Every wanted line gets one ``ReportLine`` in the given order. A line is refused, and nothing of it
kept, when its product is unknown or gone from the catalog, no longer sold, has no price for the
company, its quantity is not a quantity or breaks the product's ordering rules (the report says which
quantities would do), or the company is on hold. The other lines are added in one transaction, merged
into the buyer's draft as the builder merges them (one line per product, quantities summed, the merged
quantity checked against the rules), each with today's unit price for the quantity now on the draft,
the price it had then when the caller knows it, and the stock as of now.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from django.contrib.auth.models import User
from django.contrib.messages import constants as message_levels
from django.db import transaction
from django.db.models.functions import Upper
from django.utils import timezone

from apps.accounts.models import Company
from apps.catalog.models import Product, StockLevel
from apps.catalog.services import quantity_problem
from apps.pricing.selectors import PriceQuote, price_resolve_many
from apps.purchase_orders.models import PurchaseOrder, PurchaseOrderLine
from apps.purchase_orders.quantities import QuantityError, quantity_checked
from apps.purchase_orders.services import purchase_order_draft_get

# What became of a line.
ADDED = "added"
MERGED = "merged"  # its product was on the draft already (or earlier in the same lines): quantities summed
# Why a line was refused.
NO_PRODUCT = "no product"
UNKNOWN = "not in the catalog"
INACTIVE = "no longer sold"
NOT_ORDERABLE = "no price"
QUANTITY = "quantity"
RULES = "ordering rules"
ON_HOLD = "company on hold"


@dataclass(frozen=True)
class WantedLine:
    """A line someone wants on the draft. ``product`` when the caller knows it (it is reloaded as of now),
    else ``sku`` finds it; ``price_then``: the unit price when it was ordered, invoiced or listed;
    ``source``: where the line comes from ("order PO-7", "invoice INV-3"); ``description``: what the
    source called it, shown when there is no product to name."""

    product: Product | None
    sku: str
    quantity: Decimal
    note: str = ""
    price_then: Decimal | None = None
    source: str = ""
    description: str = ""


@dataclass(frozen=True)
class ReportLine:
    line: int  # 1-based, in the order the lines were given
    ok: bool
    kind: str  # ADDED, MERGED or why it was refused
    message: str  # one sentence the buyer reads
    sku: str
    name: str
    quantity: Decimal  # as wanted
    source: str = ""
    note: str = ""
    product_id: int | None = None
    draft_quantity: Decimal | None = None  # the product's quantity on the draft after adding
    unit_price: Decimal | None = None  # today's, for the quantity on the draft
    price_then: Decimal | None = None
    currency: str = ""
    stock: Decimal | None = None  # as of ``stock_as_of``; None: the ERP gave no figure
    stock_as_of: datetime | None = None
    valid_quantities: tuple[Decimal, ...] = ()  # quantities the rules would take, when refused for them
    changes: tuple[str, ...] = ()  # what changed since then (price, SKU)

    @property
    def price_change(self) -> Decimal | None:
        if self.unit_price is None or self.price_then is None:
            return None
        return self.unit_price - self.price_then

    @property
    def price_change_percent(self) -> Decimal | None:
        change = self.price_change
        if change is None or not self.price_then:
            return None
        return (change * 100 / self.price_then).quantize(Decimal("0.1"))

    @property
    def short_of_stock(self) -> bool:
        quantity = self.draft_quantity if self.draft_quantity is not None else self.quantity
        return self.stock is not None and self.stock < quantity


@dataclass(frozen=True)
class AddReport:
    lines: list[ReportLine]
    purchase_order: PurchaseOrder | None = None  # the draft, when one exists
    currency: str = ""

    @property
    def added(self) -> int:
        return sum(1 for line in self.lines if line.kind == ADDED)

    @property
    def merged(self) -> int:
        return sum(1 for line in self.lines if line.kind == MERGED)

    @property
    def refused(self) -> list[ReportLine]:
        return [line for line in self.lines if not line.ok]

    @property
    def level(self) -> int:
        """The message level of the summary: success, warning (some refused), error (nothing added)."""
        if not self.lines:
            return message_levels.WARNING
        if not self.refused:
            return message_levels.SUCCESS
        return message_levels.WARNING if len(self.refused) < len(self.lines) else message_levels.ERROR

    @property
    def summary(self) -> str:
        refused = len(self.refused)
        if not self.lines:
            return "Nothing to add."
        if refused == len(self.lines):
            return f"Nothing added: {refused} line(s) refused; see why below."
        text = f"{self.added} line(s) added, {self.merged} merged into lines already on your draft"
        return f"{text}, {refused} refused; see why below." if refused else f"{text}."


@dataclass
class _Pending:
    """A line accepted so far; priced once all lines are in."""

    index: int
    wanted: WantedLine
    product: Product
    kind: str
    changes: list[str] = field(default_factory=list)


def _fmt(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _stock(product: Product) -> StockLevel | None:
    try:
        return product.stock
    except StockLevel.DoesNotExist:
        return None


def quantities_valid_near(product: Product, quantity: Decimal) -> tuple[Decimal, ...]:
    """The quantities nearest ``quantity`` that the product's rules take (below, above), none if none."""
    minimum, step, maximum = product.order_minimum, product.order_increment, product.order_maximum
    if maximum is not None and maximum < minimum:
        return ()
    highest = (
        None if maximum is None else minimum + ((maximum - minimum) / step).to_integral(ROUND_FLOOR) * step
    )
    if quantity <= minimum:
        return (minimum,)
    if highest is not None and quantity >= highest:
        return (highest,)
    below = minimum + ((quantity - minimum) / step).to_integral(ROUND_FLOOR) * step
    above = below + step
    return tuple(q for q in (below, above) if highest is None or q <= highest)


def _refused(
    index: int, wanted: WantedLine, product: Product | None, kind: str, message: str, **extra: object
) -> ReportLine:
    stock = _stock(product) if product is not None else None
    return ReportLine(
        line=index,
        ok=False,
        kind=kind,
        message=message,
        sku=(product.sku if product else wanted.sku.strip()),
        name=product.name if product else wanted.description,
        quantity=wanted.quantity,
        source=wanted.source,
        note=wanted.note,
        product_id=product.pk if product else None,
        price_then=wanted.price_then,
        stock=stock.quantity if stock else None,
        stock_as_of=stock.as_of if stock else None,
        **extra,  # type: ignore[arg-type]
    )


def _products(lines: Sequence[WantedLine]) -> tuple[dict[int, Product], dict[str, Product]]:
    """The lines' products as of now, by id and by upper-case SKU: two queries at most."""
    ids = {line.product.pk for line in lines if line.product is not None}
    skus = {line.sku.strip().upper() for line in lines if line.product is None and line.sku.strip()}
    products = Product.objects.select_related("stock")
    by_id = products.in_bulk(ids) if ids else {}
    found = products.annotate(sku_upper=Upper("sku")).filter(sku_upper__in=skus) if skus else []
    by_sku: dict[str, Product] = {product.sku.upper(): product for product in found}
    return by_id, by_sku


def _found(line: WantedLine, by_id: dict[int, Product], by_sku: dict[str, Product]) -> Product | None:
    return by_id.get(line.product.pk) if line.product else by_sku.get(line.sku.strip().upper())


def _draft_locked(company: Company, buyer: User) -> PurchaseOrder | None:
    return (
        PurchaseOrder.objects.select_for_update()
        .filter(company=company, buyer=buyer, status=PurchaseOrder.Status.DRAFT)
        .order_by("created_at")
        .first()
    )


@transaction.atomic
def draft_lines_add_checked(*, company: Company, buyer: User, lines: Sequence[WantedLine]) -> AddReport:
    """Add the wanted lines to the buyer's draft (created when something is added and there is none),
    each re-checked as of now; a refused line changes nothing, the good ones are all added."""
    wanted = list(lines)
    company = Company.objects.get(pk=company.pk)  # its status as of now
    by_id, by_sku = _products(wanted)
    if company.is_on_hold:
        message = f"{company.name} is on hold and cannot order: {company.hold_reason or 'ask finance'}."
        return AddReport(
            [
                _refused(n, w, _found(w, by_id, by_sku), ON_HOLD, message)
                for n, w in enumerate(wanted, start=1)
            ]
        )
    draft = _draft_locked(company, buyer)
    existing = {line.product_id: line for line in draft.lines.all()} if draft is not None else {}
    on_draft = {product_id: line.quantity for product_id, line in existing.items()}
    candidates = [p for p in [*by_id.values(), *by_sku.values()] if p.is_active]
    unit_quotes = price_resolve_many(account=company, products=candidates) if candidates else {}

    report: dict[int, ReportLine] = {}
    pending: list[_Pending] = []
    for index, line in enumerate(wanted, start=1):
        sku = line.sku.strip()
        if line.product is None and not sku:
            text = f"“{line.description}”" if line.description else "This line"
            message = f"{text} names no product: add it from the catalog instead."
            report[index] = _refused(index, line, None, NO_PRODUCT, message)
            continue
        product = _found(line, by_id, by_sku)
        if product is None:
            label = line.product.sku if line.product else sku
            message = f"{label}: no such product in the catalog (any more)."
            report[index] = _refused(index, line, None, UNKNOWN, message)
            continue
        refusal = _refusal(company, line, product, unit_quotes, on_draft.get(product.pk, Decimal(0)))
        if refusal is not None:
            kind, message, valid = refusal
            report[index] = _refused(index, line, product, kind, message, valid_quantities=valid)
            continue
        changes = []
        if line.product is not None and sku and sku.upper() != product.sku.upper():
            changes.append(f"SKU now {product.sku} (was {sku})")
        pending.append(_Pending(index, line, product, MERGED if product.pk in on_draft else ADDED, changes))
        on_draft[product.pk] = on_draft.get(product.pk, Decimal(0)) + line.quantity

    if pending and draft is None:
        draft = purchase_order_draft_get(company=company, buyer=buyer)
    quotes: dict[int, PriceQuote] = {}
    if pending and draft is not None:
        quotes = _write(draft, existing, pending, on_draft)
    currency = draft.currency if draft is not None else ""
    for item in pending:
        report[item.index] = _added(item, quotes[item.product.pk], on_draft[item.product.pk])
    return AddReport([report[index] for index in sorted(report)], draft, currency)


def _refusal(
    company: Company, line: WantedLine, product: Product, quotes: dict[int, PriceQuote], before: Decimal
) -> tuple[str, str, tuple[Decimal, ...]] | None:
    """Why this product cannot take this line now (kind, message, quantities that would do), or None."""
    sku = product.sku
    if not product.is_active:
        return INACTIVE, f"{sku}: no longer sold.", ()
    try:
        quantity_checked(
            line.quantity, _fmt(line.quantity) if line.quantity.is_finite() else str(line.quantity)
        )
    except QuantityError as exc:
        return QUANTITY, f"{sku}: {exc}.", ()
    if quotes[product.pk].unit_price <= 0:
        return NOT_ORDERABLE, f"{sku}: has no price for {company.name}; ask your account manager.", ()
    total = before + line.quantity
    problem = quantity_problem(product, total)
    if not problem:
        return None
    valid = tuple(q - before for q in quantities_valid_near(product, total) if q > before)
    asked = f"asked {_fmt(line.quantity)}"
    if before:
        asked += f", {_fmt(total)} with the {_fmt(before)} on your draft"
    would = " or ".join(_fmt(q) for q in valid)
    return RULES, f"{sku}: {problem} ({asked})" + (f"; {would} would do." if would else "."), valid


def _write(
    draft: PurchaseOrder,
    existing: dict[int, PurchaseOrderLine],
    pending: list[_Pending],
    on_draft: dict[int, Decimal],
) -> dict[int, PriceQuote]:
    """One insert and one update for the accepted lines; today's quotes at the quantities on the draft."""
    new_lines: dict[int, PurchaseOrderLine] = {}
    changed: dict[int, PurchaseOrderLine] = {}
    for item in pending:
        product_id = item.product.pk
        current = existing.get(product_id) or new_lines.get(product_id)
        if current is None:
            new_lines[product_id] = PurchaseOrderLine(
                purchase_order=draft,
                product=item.product,
                quantity=on_draft[product_id],
                note=item.wanted.note[:200],
            )
            continue
        current.quantity = on_draft[product_id]
        current.note = current.note or item.wanted.note[:200]
        if current.pk is not None:
            current.updated_at = timezone.now()
            changed[product_id] = current
    PurchaseOrderLine.objects.bulk_create(new_lines.values())
    PurchaseOrderLine.objects.bulk_update(changed.values(), ["quantity", "note", "updated_at"])
    products = list({item.product.pk: item.product for item in pending}.values())
    return price_resolve_many(account=draft.company, products=products, quantity=dict(on_draft))


def _added(item: _Pending, quote: PriceQuote, draft_quantity: Decimal) -> ReportLine:
    wanted, product = item.wanted, item.product
    stock = _stock(product)
    changes = list(item.changes)
    if wanted.price_then is not None and quote.unit_price != wanted.price_then:
        direction = "up" if quote.unit_price > wanted.price_then else "down"
        changes.append(f"price {direction} from {wanted.price_then} to {quote.unit_price} {quote.currency}")
    verb = "added" if item.kind == ADDED else f"merged, now {_fmt(draft_quantity)} on your draft"
    message = f"{product.sku}: {_fmt(wanted.quantity)} {verb}"
    message += f" ({'; '.join(changes)})." if changes else "."
    return ReportLine(
        line=item.index,
        ok=True,
        kind=item.kind,
        message=message,
        sku=product.sku,
        name=product.name,
        quantity=wanted.quantity,
        source=wanted.source,
        note=wanted.note,
        product_id=product.pk,
        draft_quantity=draft_quantity,
        unit_price=quote.unit_price,
        price_then=wanted.price_then,
        currency=quote.currency,
        stock=stock.quantity if stock else None,
        stock_as_of=stock.as_of if stock else None,
        changes=tuple(changes),
    )


# --- Showing a report after a redirect ---------------------------------------------------------------------

SESSION_KEY = "draft_add_report"


def report_stash(session: MutableMapping[str, Any], report: AddReport) -> None:
    """Keep the report in the session for the next page (a redirect after the POST that made it)."""
    session[SESSION_KEY] = {
        "currency": report.currency,
        "lines": [{name: _plain(getattr(line, name)) for name in _LINE_FIELDS} for line in report.lines],
    }


def report_unstash(session: MutableMapping[str, Any]) -> AddReport | None:
    """The report kept by ``report_stash``, once; None when there is none (or it cannot be read)."""
    data = session.pop(SESSION_KEY, None)
    try:
        lines = [
            ReportLine(**{name: _typed(name, row[name]) for name in _LINE_FIELDS}) for row in data["lines"]
        ]
    except (TypeError, KeyError, ValueError, ArithmeticError):
        return None
    return AddReport(lines, None, str(data.get("currency", "")))


_LINE_FIELDS = tuple(f.name for f in fields(ReportLine))
_DECIMALS = {"quantity", "draft_quantity", "unit_price", "price_then", "stock"}


def _plain(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return value


def _typed(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in _DECIMALS:
        return Decimal(value)
    if name == "stock_as_of":
        return datetime.fromisoformat(value)
    if name == "valid_quantities":
        return tuple(Decimal(item) for item in value)
    if name == "changes":
        return tuple(str(item) for item in value)
    return value
