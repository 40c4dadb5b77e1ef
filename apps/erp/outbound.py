"""Outbound handlers: one per job kind, each pushing a batch of jobs through the connector."""

from __future__ import annotations

from apps.accounts.models import Company
from apps.erp.connectors.base import (
    AddressRecord,
    Connector,
    CustomerPush,
    ErpBusinessError,
    ErpError,
    ErpTransientError,
    OrderCancel,
    OrderPush,
    OrderPushResult,
    PriceListPush,
    PushResult,
)
from apps.erp.models import SyncJob
from apps.erp.services import JobHandler, job_fail, job_succeed

CUSTOMER_PUSH = "customer.push"


def _customer_push(company: Company) -> CustomerPush:
    return CustomerPush(
        code=company.erp_customer_code,
        name=company.name,
        tax_identifier=company.tax_identifier,
        addresses=[
            AddressRecord(
                erp_id="",
                street=address.street,
                city=address.city,
                postal_code=address.postal_code,
                region=address.region,
                country=address.country,
            )
            for address in company.ship_to_addresses.all()
        ],
    )


def push_customers(connector: Connector, jobs: list[SyncJob]) -> None:
    """Create the ERP customer of each new company, once: the ERP is searched by code before creating."""
    companies = Company.objects.prefetch_related("ship_to_addresses").in_bulk(
        [int(job.target_id) for job in jobs]
    )
    ready: list[SyncJob] = []
    for job in jobs:
        company = companies.get(int(job.target_id))
        if company is None or not company.erp_customer_code:
            job_fail(job=job, error=ErpBusinessError("The company no longer exists or has no customer code."))
            continue
        ready.append(job)
    if not ready:
        return
    try:
        results = connector.push_customers([_customer_push(companies[int(job.target_id)]) for job in ready])
    except ErpError as exc:
        for job in ready:
            job_fail(job=job, error=exc)
        return
    by_code: dict[str, PushResult] = {result.code: result for result in results}
    for job in ready:
        company = companies[int(job.target_id)]
        result = by_code.get(company.erp_customer_code)
        if result is None:
            job_fail(job=job, error=ErpBusinessError("The ERP returned no customer for this company."))
            continue

        def apply(company: Company = company, result: PushResult = result) -> None:
            Company.objects.filter(pk=company.pk).update(erp_party_id=result.erp_id)

        verb = "created" if result.created else "found (created by an earlier attempt)"
        job_succeed(
            job=job,
            erp_reference=result.erp_id,
            message=f"ERP customer {company.erp_customer_code} {verb}, party id {result.erp_id}",
            apply=apply,
        )


def push_price_lists(connector: Connector, jobs: list[SyncJob]) -> None:
    """Replace each company's ERP price list with the portal's current prices, assigned to the customer."""
    from apps.pricing.erp import price_list_for_company

    companies = Company.objects.in_bulk([int(job.target_id) for job in jobs])
    ready: list[tuple[SyncJob, PriceListPush]] = []
    for job in jobs:
        company = companies.get(int(job.target_id))
        if company is None:
            job_fail(job=job, error=ErpBusinessError("The company no longer exists."))
        elif not company.erp_party_id:
            # The customer is still on its way to the ERP (or not pulled yet): wait, with backoff.
            job_fail(job=job, error=ErpTransientError("Waiting for the company's ERP customer to exist."))
        else:
            ready.append((job, price_list_for_company(company)))
    if not ready:
        return
    try:
        results = {result.key: result for result in connector.push_price_lists([push for _, push in ready])}
    except ErpError as exc:
        for job, _ in ready:
            job_fail(job=job, error=exc)
        return
    for job, push in ready:
        result = results.get(push.key)
        if result is None:
            job_fail(job=job, error=ErpBusinessError("The ERP returned no price list."))
            continue
        job_succeed(
            job=job,
            erp_reference=result.erp_id,
            message=(
                f"price list {result.erp_id} {'created' if result.created else 'replaced'}: "
                f"{len(push.lines)} lines"
            ),
        )


def push_orders(connector: Connector, jobs: list[SyncJob]) -> None:
    """Approved orders become ERP sales, the whole batch in a few calls; each moves on as the ERP answers."""
    from apps.credit.models import CreditHold
    from apps.credit.services import purchase_order_erp_credit_refused
    from apps.purchase_orders.erp import order_push_for
    from apps.purchase_orders.models import PurchaseOrder
    from apps.purchase_orders.services import purchase_order_erp_pushed

    orders = PurchaseOrder.objects.select_related("company", "ship_to").in_bulk(
        [int(job.target_id) for job in jobs]
    )
    # Orders finance released from credit hold: the ERP is told to accept their credit overrun.
    released = set(
        CreditHold.objects.filter(
            purchase_order_id__in=list(orders), status=CreditHold.Status.RELEASED
        ).values_list("purchase_order_id", flat=True)
    )
    ready: list[tuple[SyncJob, PurchaseOrder, OrderPush]] = []
    for job in jobs:
        order = orders.get(int(job.target_id))
        if order is None:
            job_fail(job=job, error=ErpBusinessError("The order no longer exists."))
        elif order.status == PurchaseOrder.Status.CANCELLED:
            job_succeed(
                job=job, erp_reference="", message="cancelled before it reached the ERP: nothing sent"
            )
        elif not order.company.erp_party_id:
            job_fail(job=job, error=ErpTransientError("Waiting for the company's ERP customer to exist."))
        else:
            ready.append((job, order, order_push_for(order, accept_credit_warning=order.pk in released)))
    if not ready:
        return
    try:
        results = connector.push_orders([push for _, _, push in ready])
    except ErpError as exc:
        for job, _, _ in ready:
            job_fail(job=job, error=exc)
        return
    by_key = {(result.customer_erp_id, result.reference): result for result in results}
    for job, order, push in ready:
        result = by_key.get((push.customer_erp_id, push.reference))
        if result is None:
            job_fail(job=job, error=ErpBusinessError("The ERP returned nothing for this order."))
            continue
        if result.error:
            job_fail(job=job, error=ErpBusinessError(result.error))
            if result.credit_refused and order.pk not in released:
                purchase_order_erp_credit_refused(purchase_order=order, message=result.error)
            continue

        def apply(order: PurchaseOrder = order, result: OrderPushResult = result) -> None:
            purchase_order_erp_pushed(
                purchase_order=order,
                erp_reference=result.number or result.erp_id,
                number=result.number,
                confirmed=result.state in ("confirmed", "processing", "done"),
            )

        verb = "created" if result.created else "found (created by an earlier attempt)"
        job_succeed(
            job=job,
            erp_reference=result.number,
            message=f"ERP sale {result.number} {verb}, {result.state}",
            apply=apply,
        )


def cancel_orders(connector: Connector, jobs: list[SyncJob]) -> None:
    """Orders refused in the portal after the ERP had their sale (finance rejected an order the ERP's
    credit check had stopped): the ERP's quotation is cancelled so it never goes on."""
    from apps.purchase_orders.models import PurchaseOrder

    orders = PurchaseOrder.objects.select_related("company").in_bulk([int(job.target_id) for job in jobs])
    ready: list[tuple[SyncJob, OrderCancel]] = []
    for job in jobs:
        order = orders.get(int(job.target_id))
        if order is None or not order.company.erp_party_id:
            job_succeed(job=job, erp_reference="", message="no ERP sale to cancel")
        else:
            ready.append((job, OrderCancel(order.customer_po_number, order.company.erp_party_id)))
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
            job_succeed(job=job, erp_reference="", message="the ERP has no sale for it: nothing to cancel")
        else:
            job_succeed(job=job, erp_reference=result.erp_id, message=f"ERP sale {result.erp_id} cancelled")


PRICE_LIST_PUSH = "pricelist.push"
ORDER_PUSH = "order.push"
ORDER_CANCEL = "order.cancel"
HANDLERS: dict[str, JobHandler] = {
    CUSTOMER_PUSH: push_customers,
    PRICE_LIST_PUSH: push_price_lists,
    ORDER_PUSH: push_orders,
    ORDER_CANCEL: cancel_orders,
}
