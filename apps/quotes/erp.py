"""How quotes meet the ERP: an offered quote is kept there as a sale in quotation state at the offered
prices (a new version replaces its lines), cancelled when the quote is declined, closed or expires (or
its order is refused in the portal), and confirmed, once, by its order's push, which takes the
quotation over (``purchase_orders.gates.BegunSale``): the ERP ends with one sale per accepted quote."""

from __future__ import annotations

from apps.accounts.models import ShipToAddress
from apps.erp import registry
from apps.erp.connectors.base import (
    AddressRecord,
    Connector,
    ErpBusinessError,
    ErpError,
    ErpTransientError,
    OrderCancel,
    OrderLinePush,
    QuotePush,
)
from apps.erp.models import SyncJob
from apps.erp.services import capabilities_get, job_enqueue, job_fail, job_succeed
from apps.purchase_orders import gates
from apps.purchase_orders.models import PurchaseOrder
from apps.quotes.models import Quote, QuoteVersion

Status = Quote.Status
QUOTE_PUSH = "quote.push"
QUOTE_CANCEL = "quote.cancel"
# A quote that ends in one of these without an order: its ERP quotation must not go on.
ENDED = (Status.DECLINED, Status.CLOSED, Status.EXPIRED)
OPEN_JOB = (SyncJob.Status.PENDING, SyncJob.Status.IN_FLIGHT)


def quote_erp_follow(quote: Quote, to: str) -> None:
    """After a quote moved (in the move's transaction): the outbox job that keeps its ERP quotation in
    step, once per version offered and once for the end. Nothing for an ERP without quotations, and
    nothing on ordered: the order's push confirms the quotation when the order is approved."""
    if not capabilities_get().quotes:
        return
    if to == Status.OFFERED:
        version = quote.versions.order_by("-number").values_list("number", flat=True).first()
        if version is not None:
            job_enqueue(kind=QUOTE_PUSH, target=quote, idempotency_key=f"{QUOTE_PUSH}:{quote.pk}:v{version}")
    elif to in ENDED and quote.versions.offered().exists():
        job_enqueue(kind=QUOTE_CANCEL, target=quote, idempotency_key=f"{QUOTE_CANCEL}:{quote.pk}")


def quote_order_ended(*, purchase_order: PurchaseOrder) -> None:
    """The order of an accepted quote was rejected or cancelled in the portal: the quote's ERP quotation
    (if the order's push has not taken it over) must not go on either."""
    quote = Quote.objects.filter(purchase_order=purchase_order).first()
    if quote is not None and capabilities_get().quotes and quote.versions.offered().exists():
        job_enqueue(kind=QUOTE_CANCEL, target=quote, idempotency_key=f"{QUOTE_CANCEL}:{quote.pk}")


def _address(address: ShipToAddress | None) -> AddressRecord:
    if address is None:
        return AddressRecord("", "", "", "", "", "")
    return AddressRecord(
        erp_id=address.erp_address_id,
        street=address.street,
        city=address.city,
        postal_code=address.postal_code,
        region=address.region,
        country=address.country,
    )


def quote_push_for(quote: Quote, version: QuoteVersion, ship_to: ShipToAddress | None) -> QuotePush:
    """The quotation of ``version``: the quote number as reference, the offered quantities and prices."""
    return QuotePush(
        reference=quote.number,
        customer_erp_id=quote.company.erp_party_id,
        ship_to=_address(ship_to),
        lines=[
            OrderLinePush(
                product_erp_id=line.product.erp_id, quantity=line.quantity, unit_price=line.unit_price
            )
            for line in version.lines.all()
        ],
        description=f"Quote {quote.number} v{version.number}",
        notes=version.note,
    )


def _latest_versions(quotes: list[Quote]) -> dict[int, QuoteVersion]:
    latest: dict[int, QuoteVersion] = {}
    """Each quote's latest version put before the buyer (one waiting for a second approval is not)."""
    versions = QuoteVersion.objects.offered().filter(quote__in=quotes).prefetch_related("lines__product")
    for version in versions.order_by("quote_id", "number"):
        latest[version.quote_id] = version
    return latest


def _ship_tos(quotes: list[Quote]) -> dict[int, ShipToAddress]:
    """Each company's default ship-to address (else its first active one): where the quotation ships."""
    chosen: dict[int, ShipToAddress] = {}
    for address in ShipToAddress.objects.filter(
        company_id__in={quote.company_id for quote in quotes}, is_active=True
    ).order_by("-is_default", "id"):
        chosen.setdefault(address.company_id, address)
    return chosen


def quotes_push(connector: Connector, jobs: list[SyncJob]) -> None:
    """Offered quotes become (or update) ERP quotations at their latest version's prices, in one call.

    A job sends the quote as it is when it runs: a later version is sent by an earlier job too (the same
    lines again do no harm); a quote that ended meanwhile, or whose order is at the ERP already, sends
    nothing (its cancel, or its order's push, is what the ERP needs)."""
    quotes = Quote.objects.select_related("company", "purchase_order").in_bulk(
        [int(job.target_id) for job in jobs]
    )
    versions = _latest_versions(list(quotes.values()))
    ship_tos = _ship_tos(list(quotes.values()))
    ready: list[tuple[SyncJob, Quote, QuotePush]] = []
    for job in jobs:
        quote = quotes.get(int(job.target_id))
        if quote is None:
            job_fail(job=job, error=ErpBusinessError("The quote no longer exists."))
        elif not connector.capabilities.quotes:
            job_succeed(job=job, erp_reference="", message="the ERP keeps no quotations: nothing sent")
        elif quote.status in ENDED:
            job_succeed(job=job, erp_reference="", message=f"the quote is {quote.status}: nothing sent")
        elif quote.purchase_order is not None and quote.purchase_order.erp_reference:
            job_succeed(job=job, erp_reference="", message="its order is at the ERP already: nothing sent")
        elif not quote.company.erp_party_id:
            job_fail(job=job, error=ErpTransientError("Waiting for the company's ERP customer to exist."))
        elif quote.pk not in versions:
            job_succeed(
                job=job, erp_reference="", message="no version was put before the buyer: nothing sent"
            )
        elif quote.company_id not in ship_tos:
            job_fail(job=job, error=ErpBusinessError(f"{quote.company.name} has no ship-to address."))
        else:
            ready.append((job, quote, quote_push_for(quote, versions[quote.pk], ship_tos[quote.company_id])))
    if not ready:
        return
    try:
        results = connector.push_quotes([push for _, _, push in ready])
    except ErpError as exc:
        for job, _, _ in ready:
            job_fail(job=job, error=exc)
        return
    for (job, _, push), result in zip(ready, results, strict=True):
        if result.error:
            job_fail(job=job, error=ErpBusinessError(result.error))
            continue
        verb = "created" if result.created else "updated"
        job_succeed(
            job=job,
            erp_reference=result.number,
            message=f"ERP quotation {result.number} {verb} ({push.description}), {result.state}",
        )


def quotes_cancel(connector: Connector, jobs: list[SyncJob]) -> None:
    """Declined, closed or expired quotes, and those whose order the portal refused: their ERP quotation
    is cancelled (a quotation is a sale found by customer and reference like an order's, so the order
    cancel does it). It waits for a push of the quote still under way, so that push cannot make a
    quotation after the cancel looked."""
    quotes = Quote.objects.select_related("company").in_bulk([int(job.target_id) for job in jobs])
    pushing = _pushing({quote.pk for quote in quotes.values()})
    ready: list[tuple[SyncJob, OrderCancel]] = []
    for job in jobs:
        quote = quotes.get(int(job.target_id))
        if quote is None or not quote.company.erp_party_id:
            job_succeed(job=job, erp_reference="", message="no ERP quotation to cancel")
        elif quote.pk in pushing:
            job_fail(job=job, error=ErpTransientError("Waiting for the quotation's push to end first."))
        else:
            ready.append((job, OrderCancel(quote.number, quote.company.erp_party_id)))
    if not ready:
        return
    try:
        results = connector.cancel_orders([cancel for _, cancel in ready])
    except ErpError as exc:
        for job, _ in ready:
            job_fail(job=job, error=exc)
        return
    for (job, _), result in zip(ready, results, strict=True):
        if result.error:
            job_fail(job=job, error=ErpBusinessError(result.error))
        elif not result.erp_id:
            job_succeed(
                job=job, erp_reference="", message="the ERP has no quotation for it: nothing to cancel"
            )
        else:
            job_succeed(
                job=job, erp_reference=result.erp_id, message=f"ERP quotation {result.erp_id} cancelled"
            )


def _pushing(quote_ids: set[int]) -> set[int]:
    """The quotes with a push job still pending or in flight."""
    return {
        int(target)
        for target in SyncJob.objects.filter(
            kind=QUOTE_PUSH, target_id__in=[str(pk) for pk in quote_ids], status__in=OPEN_JOB
        ).values_list("target_id", flat=True)
    }


def begun_sales(orders: list[PurchaseOrder]) -> dict[int, gates.BegunSale]:
    """Orders accepted from a quote: their push takes the quote's ERP quotation over, after the quote's
    own push (one still pending or in flight makes the order's wait)."""
    quotes = list(Quote.objects.filter(purchase_order__in=orders).only("pk", "number", "purchase_order_id"))
    pushing = _pushing({quote.pk for quote in quotes})
    return {
        quote.purchase_order_id: gates.BegunSale(
            reference=quote.number,
            waiting=f"Waiting for the ERP quotation of quote {quote.number} first."
            if quote.pk in pushing
            else "",
        )
        for quote in quotes
        if quote.purchase_order_id is not None
    }


def register() -> None:
    registry.job_kind_register(
        registry.JobKind(QUOTE_PUSH, quotes_push, "ERP quotation for an offered quote")
    )
    registry.job_kind_register(registry.JobKind(QUOTE_CANCEL, quotes_cancel, "ERP quotation cancelled"))
    gates.gate_register(gates.Gate(name="quotes", order_ended=quote_order_ended, begun_sales=begun_sales))
