"""How companies meet the ERP: a new company is pushed once as an ERP customer; the customers stream
brings the ERP's name, code, addresses and credit holds back (terms and limits are credit's, see
apps/credit/erp.py)."""

from __future__ import annotations

from django.conf import settings

from apps.accounts import services
from apps.accounts.models import Company, ShipToAddress
from apps.erp import registry
from apps.erp.connectors.base import (
    AddressRecord,
    Connector,
    CustomerPush,
    CustomerRecord,
    ErpBusinessError,
    ErpError,
    PushResult,
)
from apps.erp.models import SyncJob
from apps.erp.registry import Applied, Change
from apps.erp.services import job_enqueue, job_fail, job_succeed

CUSTOMER_PUSH = "customer.push"
CUSTOMERS = "customers"


# --- Out: a new company becomes an ERP customer ------------------------------------------------------------


def customer_push_for(company: Company) -> CustomerPush:
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


def customer_push_enqueue(company: Company) -> SyncJob:
    """Once per company: its customer code is the ERP-side key, and the job's key is the company."""
    return job_enqueue(kind=CUSTOMER_PUSH, target=company, idempotency_key=f"{CUSTOMER_PUSH}:{company.pk}")


def customers_push(connector: Connector, jobs: list[SyncJob]) -> None:
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
        results = connector.push_customers(
            [customer_push_for(companies[int(job.target_id)]) for job in ready]
        )
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


# --- In: the customers stream ------------------------------------------------------------------------------


def _address_label(company: Company, record_street: str, city: str) -> str:
    base = (f"{city}: {record_street}" if city else record_street)[:90] or "ERP address"
    label, n = base, 2
    while ShipToAddress.objects.filter(company=company, label=label).exists():
        label, n = f"{base} ({n})", n + 1
    return label


def _addresses_apply(company: Company, record: CustomerRecord) -> list[str]:
    changes = []
    existing = {
        address.erp_address_id: address for address in company.ship_to_addresses.exclude(erp_address_id="")
    }
    has_default = company.ship_to_addresses.filter(is_default=True).exists()
    for erp_address in record.addresses:
        values = {
            "street": erp_address.street,
            "city": erp_address.city,
            "postal_code": erp_address.postal_code,
            "region": erp_address.region,
            "country": erp_address.country or "US",
        }
        address = existing.get(erp_address.erp_id)
        if address is None:
            ShipToAddress.objects.create(
                company=company,
                erp_address_id=erp_address.erp_id,
                label=_address_label(company, erp_address.street, erp_address.city),
                is_default=not has_default,
                **values,
            )
            has_default = True
            changes.append(f"address {erp_address.city} added")
        elif any(getattr(address, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(address, name, value)
            address.save(update_fields=[*values, "updated_at"])
            changes.append(f"address {erp_address.city} updated")
    return changes


def _hold_apply(company: Company, record: CustomerRecord) -> list[str]:
    """The ERP's credit hold, through the hold service finance's pages use (it decides who owns a hold)."""
    source = Company.HoldSource.ERP
    if record.on_hold:
        was_held = company.is_on_hold
        if not services.company_hold_put(company=company, reason=record.hold_reason, source=source):
            return []
        return ["hold reason changed in the ERP" if was_held else "put on hold by the ERP"]
    if company.hold_source == source and services.company_hold_lift(company=company, source=source):
        return ["hold lifted in the ERP"]
    return []


def customers_apply(records: list[CustomerRecord]) -> Applied:
    """Match each ERP customer to its company (by party id, else by customer code), create the ones the
    portal does not know yet (customers with payment terms: not suppliers or the ERP's own company), and
    take the ERP's name, code, holds and addresses."""
    by_party = {
        c.erp_party_id: c for c in Company.objects.filter(erp_party_id__in=[r.erp_id for r in records])
    }
    by_code = {
        c.erp_customer_code: c
        for c in Company.objects.filter(erp_customer_code__in=[r.code for r in records if r.code])
    }
    applied = Applied()
    for record in records:
        company = by_party.get(record.erp_id) or (by_code.get(record.code) if record.code else None)
        if company is None:
            if not (settings.ERP_IMPORT_NEW_CUSTOMERS and record.payment_term_id and record.code):
                continue  # not a customer (the ERP's own company, suppliers, …)
            company = Company.objects.create(
                name=record.name,
                erp_customer_code=record.code,
                erp_party_id=record.erp_id,
                erp_updated_at=record.changed_at,
            )
            _hold_apply(company, record)
            _addresses_apply(company, record)
            applied.changes.append(Change(Company, company.pk, "customer created from the ERP", created=True))
            continue
        changes = []
        erp_values = {"name": record.name, "erp_customer_code": record.code, "erp_party_id": record.erp_id}
        changed_fields = [name for name, value in erp_values.items() if getattr(company, name) != value]
        if changed_fields or company.erp_updated_at != record.changed_at:
            for name in changed_fields:
                setattr(company, name, erp_values[name])
            company.erp_updated_at = record.changed_at
            company.save(update_fields=[*changed_fields, "erp_updated_at", "updated_at"])
            changes.extend(changed_fields)
        changes.extend(_hold_apply(company, record))
        changes.extend(_addresses_apply(company, record))
        if changes:
            applied.changes.append(Change(Company, company.pk, "; ".join(changes)))
    return applied


def register() -> None:
    registry.job_kind_register(registry.JobKind(CUSTOMER_PUSH, customers_push, "ERP customer for a company"))
    registry.stream_register(
        registry.StreamSpec(
            name=CUSTOMERS,
            label="Customers",
            fetch=lambda connector, cursor, limit: connector.pull_customers(cursor, limit),
        ),
        apply=customers_apply,
    )
