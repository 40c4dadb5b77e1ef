"""The sync engine against a real Tryton 8.2 server that the test starts."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.utils import timezone

from apps.accounts import erp as accounts_erp
from apps.accounts.erp import CUSTOMERS
from apps.accounts.models import Company
from apps.accounts.services import company_create, ship_to_address_save
from apps.catalog.erp import PRODUCTS, STOCK
from apps.catalog.models import Category, Product, StockLevel
from apps.credit.models import CreditAccount
from apps.erp import inbound, services
from apps.erp.connectors.tryton import TrytonConnector
from apps.erp.connectors.tryton.client import TrytonClient
from apps.erp.models import ErpConnection, SyncCursor, SyncEvent, SyncJob
from apps.erp.selectors import sync_state_for
from tests.accounts.factories import UserFactory


def _pull(connection: ErpConnection, connector: TrytonConnector, stream: str, **kwargs) -> inbound.PullReport:
    report = inbound.pull_stream(connection=connection, stream=stream, connector=connector, **kwargs)
    assert report.error == ""
    return report


def _parties_with_code(admin: TrytonClient, code: str) -> list[dict]:
    return admin.model("party.party", "search_read", [["code", "=", code]], 0, None, None, ["name"])


def _template_of(admin: TrytonClient, sku: str) -> dict:
    (row,) = admin.model("product.product", "search_read", [["code", "=", sku]], 0, 1, None, ["template"])
    return row


# --- Inbound -------------------------------------------------------------------------------------------


def test_customers_are_pulled_with_terms_limits_and_addresses(erp_connection, connector) -> None:
    manager = UserFactory()
    existing = company_create(
        name="Acme (portal spelling)", erp_customer_code="CUST-001", account_manager=manager
    )
    Company.objects.filter(pk=existing.pk).update(phone="+1 312 555 0142")

    report = _pull(erp_connection, connector, CUSTOMERS)

    assert report.seen >= 10
    codes = set(Company.objects.values_list("erp_customer_code", flat=True))
    assert {f"CUST-{n:03d}" for n in range(1, 11)} <= codes
    assert not Company.objects.filter(name="Northwind Wholesale Inc.").exists()  # the ERP's own company
    acme = Company.objects.get(pk=existing.pk)
    assert acme.name == "Acme Hardware Co."  # ERP-owned: overwritten
    assert acme.account_manager == manager  # portal-owned: kept
    assert acme.phone == "+1 312 555 0142"
    credit = CreditAccount.objects.select_related("payment_term").get(company=acme)
    assert credit.credit_limit == Decimal("25000.00")
    assert credit.payment_term.name == "Net 30"
    assert acme.ship_to_addresses.count() == 2
    assert acme.ship_to_addresses.filter(is_default=True).count() == 1
    assert CreditAccount.objects.get(company__erp_customer_code="CUST-005").payment_term.name == "Prepaid"


def test_second_customer_pull_is_idempotent(erp_connection, connector) -> None:
    _pull(erp_connection, connector, CUSTOMERS)
    counts = (Company.objects.count(), SyncEvent.objects.count(), CreditAccount.objects.count())

    report = _pull(erp_connection, connector, CUSTOMERS)

    assert report.seen > 0  # the overlap window re-reads recent rows…
    assert report.changed == 0  # …and finds nothing new
    assert (Company.objects.count(), SyncEvent.objects.count(), CreditAccount.objects.count()) == counts


def test_products_and_stock_are_pulled(erp_connection, connector) -> None:
    _pull(erp_connection, connector, PRODUCTS, page_size=300)
    _pull(erp_connection, connector, STOCK, page_size=300)

    assert Product.objects.count() == 1200
    assert Product.objects.filter(is_active=False).count() == 36
    assert Category.objects.count() == 8
    product = Product.objects.select_related("category").get(sku="SKU-00001")
    assert product.category.name == "Fasteners"
    assert product.list_price == Decimal("0.1423")
    assert product.unit == "u"
    assert StockLevel.objects.count() >= 1000
    level = StockLevel.objects.get(product=product)
    assert level.quantity == Decimal("11")
    assert timezone.now() - level.as_of < timedelta(minutes=1)
    cursor = SyncCursor.objects.get(stream=PRODUCTS)
    assert cursor.position_time is not None
    assert cursor.position == ""
    assert cursor.items_total == 1200


def test_product_costs_come_with_the_pull_even_when_only_the_cost_changed(
    erp_connection, connector, erp_admin, erp_server, settings
) -> None:
    settings.ERP_PULL_OVERLAP_SECONDS = 0
    _pull(erp_connection, connector, PRODUCTS)
    # The seed stamps every product alike: move the cursor past them, so the next pull reads only what
    # changes from now on.
    SyncCursor.objects.filter(stream=PRODUCTS).update(position_time=timezone.now())
    product = Product.objects.get(sku="SKU-00042")
    assert product.cost_price is not None
    assert Decimal(0) < product.cost_price < product.list_price  # the seeded cost
    (row,) = erp_admin.model(
        "product.product", "search_read", [["code", "=", "SKU-00042"]], 0, 1, None, ["cost_prices"]
    )
    # What Tryton's average costing does on a receipt: the company's cost row alone is written, the
    # product itself is not (product.cost_price has no RPC write: through its SQLite table, stamped now
    # by the server's clock, naive UTC text as Tryton keeps it).
    stamp = timezone.now().astimezone(UTC).replace(tzinfo=None).isoformat(" ", timespec="microseconds")
    database = erp_server.workdir / "db" / f"{erp_server.database}.sqlite"
    with closing(sqlite3.connect(database, timeout=30)) as db, db:
        db.executemany(
            "UPDATE product_cost_price SET cost_price = ?, write_date = ? WHERE id = ?",
            [("1.2345", stamp, cost_id) for cost_id in row["cost_prices"]],
        )

    report = _pull(erp_connection, connector, PRODUCTS)

    assert Product.objects.get(pk=product.pk).cost_price == Decimal("1.2345")
    assert report.changed == 1


def test_erp_change_reaches_the_portal_and_portal_fields_survive(
    erp_connection, connector, erp_admin
) -> None:
    _pull(erp_connection, connector, PRODUCTS)
    Product.objects.filter(sku="SKU-00042").update(
        order_minimum=Decimal("12"), portal_notes="Sold by the box"
    )
    row = _template_of(erp_admin, "SKU-00042")
    erp_admin.model(
        "product.template", "write", [row["template"]], {"list_price": Decimal("99.5000"), "salable": False}
    )

    report = _pull(erp_connection, connector, PRODUCTS)

    product = Product.objects.get(sku="SKU-00042")
    assert product.list_price == Decimal("99.5000")
    assert product.is_active is False
    assert product.order_minimum == Decimal("12")
    assert product.portal_notes == "Sold by the box"
    assert report.changed == 1
    event = SyncEvent.objects.filter(target_id=str(product.pk), direction=SyncEvent.Direction.INBOUND).first()
    assert event is not None
    assert "99.5000" in event.message
    assert sync_state_for(product).state == "synced"


def test_stock_change_is_pulled_with_its_time(erp_connection, connector, erp_admin, settings) -> None:
    # A short overlap, so the template's own stock moves (possibly minutes old) fall outside the window.
    settings.ERP_PULL_OVERLAP_SECONDS = 1
    _pull(erp_connection, connector, PRODUCTS)
    _pull(erp_connection, connector, STOCK)
    product = Product.objects.get(sku="SKU-00007")
    before = StockLevel.objects.get(product=product)
    locations = erp_admin.model(
        "stock.location", "search_read", [["code", "in", ["STO", "SUP"]]], 0, None, None, ["code"]
    )
    by_code = {row["code"]: row["id"] for row in locations}
    (erp_product,) = erp_admin.model("product.product", "read", [int(product.erp_id)], ["default_uom"])
    move_ids = erp_admin.model(
        "stock.move",
        "create",
        [
            {
                "product": erp_product["id"],
                "unit": erp_product["default_uom"],
                "quantity": 25,
                "from_location": by_code["SUP"],
                "to_location": by_code["STO"],
                "unit_price": Decimal("1"),
                "currency": 1,
            }
        ],
    )
    erp_admin.model("stock.move", "do", move_ids)

    report = _pull(erp_connection, connector, STOCK)

    after = StockLevel.objects.get(product=product)
    assert after.quantity == before.quantity + 25
    assert after.as_of > before.as_of
    assert report.seen < 50  # incremental: only products whose moves changed


def test_record_changed_during_a_pull_is_not_missed(erp_connection, connector, erp_admin) -> None:
    """A row changed behind the pull's position, while a later row's change raises the high-water mark."""
    _pull(erp_connection, connector, PRODUCTS)
    early = _template_of(erp_admin, "SKU-00005")
    late = _template_of(erp_admin, "SKU-01100")

    def during(page: int) -> None:
        if page == 1:  # SKU-00005 was on page 1, already read; SKU-01100 is on a later page
            erp_admin.model(
                "product.template", "write", [early["template"]], {"list_price": Decimal("5.5500")}
            )
            erp_admin.model(
                "product.template", "write", [late["template"]], {"list_price": Decimal("11.1100")}
            )

    _pull(erp_connection, connector, PRODUCTS, page_size=200, after_page=during)
    assert Product.objects.get(sku="SKU-01100").list_price == Decimal("11.1100")
    assert Product.objects.get(sku="SKU-00005").list_price != Decimal("5.5500")  # missed by this run…

    _pull(erp_connection, connector, PRODUCTS, page_size=200)

    assert Product.objects.get(sku="SKU-00005").list_price == Decimal("5.5500")  # …caught by the overlap


# --- Outbound ------------------------------------------------------------------------------------------


def _new_company(name: str = "Brand New Builders") -> Company:
    company = company_create(name=name, account_manager=UserFactory(), push_to_erp=True)
    ship_to_address_save(
        company=company, label="Yard", street="9 Depot Rd", city="Dayton", postal_code="45402", country="US"
    )
    return company


def test_company_created_in_the_portal_is_pushed_once(erp_connection, connector, erp_admin) -> None:
    company = _new_company()
    job = SyncJob.objects.get(target_id=str(company.pk))
    assert job.status == SyncJob.Status.PENDING
    assert sync_state_for(company).state == "pending"

    report = services.dispatch(connection=erp_connection, connector=connector)
    services.dispatch(connection=erp_connection, connector=connector)  # nothing left to do

    assert report.succeeded == 1
    job.refresh_from_db()
    company.refresh_from_db()
    parties = erp_admin.model(
        "party.party",
        "search_read",
        [["code", "=", company.erp_customer_code]],
        0,
        None,
        None,
        ["name", "addresses"],
    )
    assert len(parties) == 1
    assert parties[0]["name"] == "Brand New Builders"
    assert len(parties[0]["addresses"]) == 1
    assert job.status == SyncJob.Status.SUCCEEDED
    assert job.attempts == 1
    assert company.erp_party_id == str(parties[0]["id"])
    assert sync_state_for(company).state == "synced"


class WorkerDied(BaseException):
    """Stands in for a process killed between the ERP's create and the portal's commit."""


def test_crash_between_erp_create_and_portal_commit_leaves_one_customer(
    erp_connection, connector, erp_admin, monkeypatch
) -> None:
    company = _new_company("Crash Test Supply")

    def die(**kwargs) -> None:
        raise WorkerDied

    monkeypatch.setattr(accounts_erp, "job_succeed", die)
    with pytest.raises(WorkerDied):
        services.dispatch(connection=erp_connection, connector=connector)
    monkeypatch.undo()
    job = SyncJob.objects.get(target_id=str(company.pk))
    assert job.status == SyncJob.Status.IN_FLIGHT  # the worker never came back
    assert len(_parties_with_code(erp_admin, company.erp_customer_code)) == 1

    # Nothing happens before the dead worker's lease runs out and its last ERP call must have ended…
    assert services.dispatch(connection=erp_connection, connector=connector).claimed == 0
    SyncJob.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert services.dispatch(connection=erp_connection, connector=connector).claimed == 0
    lost_call_over = timedelta(seconds=settings.ERP_LOST_CALL_SECONDS + 1)
    SyncJob.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - lost_call_over)
    report = services.dispatch(connection=erp_connection, connector=connector)

    job.refresh_from_db()
    assert report.succeeded == 1
    assert job.status == SyncJob.Status.SUCCEEDED
    assert job.attempts == 2
    assert len(_parties_with_code(erp_admin, company.erp_customer_code)) == 1
    assert (
        "earlier attempt"
        in SyncEvent.objects.filter(job=job, outcome=SyncEvent.Outcome.SUCCEEDED).get().message
    )


def test_jobs_wait_while_the_erp_is_down_then_succeed_once(erp_connection, erp_server, erp_admin) -> None:
    companies = [_new_company(f"Outage Co {n}") for n in range(3)]
    erp_server.stop()

    down = services.dispatch(connection=erp_connection)

    assert down.retrying == 3
    jobs = list(SyncJob.objects.order_by("id"))
    assert all(job.status == SyncJob.Status.PENDING for job in jobs)
    assert all(job.attempts == 1 for job in jobs)
    assert all(job.last_error_kind == SyncJob.ErrorKind.UNAVAILABLE for job in jobs)
    assert all(job.next_attempt_at > timezone.now() for job in jobs)  # backing off
    assert "unreachable" in jobs[0].last_error
    assert services.dispatch(connection=erp_connection).claimed == 0  # not before the backoff

    erp_server.restart()
    SyncJob.objects.update(next_attempt_at=timezone.now())
    up = services.dispatch(connection=erp_connection)

    assert up.succeeded == 3
    assert set(SyncJob.objects.values_list("status", flat=True)) == {SyncJob.Status.SUCCEEDED}
    for company in companies:
        company.refresh_from_db()
        assert len(_parties_with_code(erp_admin, company.erp_customer_code)) == 1


def test_business_error_fails_for_a_person_and_is_not_retried(erp_connection, connector) -> None:
    company = company_create(name="Typo Tools", tax_identifier="00-1234567", push_to_erp=True)

    report = services.dispatch(connection=erp_connection, connector=connector)

    job = SyncJob.objects.get(target_id=str(company.pk))
    assert report.failed == 1
    assert job.status == SyncJob.Status.FAILED
    assert job.last_error_kind == SyncJob.ErrorKind.BUSINESS
    assert (
        job.last_error
        == 'The U.S. Employer Identification Number "00-1234567" for party "Typo Tools" is not valid.'
    )
    state = sync_state_for(company)
    assert state.state == "failed"
    assert "00-1234567" in state.reason
    assert services.dispatch(connection=erp_connection, connector=connector).claimed == 0
    job.refresh_from_db()
    assert job.attempts == 1

    Company.objects.filter(pk=company.pk).update(tax_identifier="04-2103594")  # corrected by a person
    services.job_retry(job=job)
    services.dispatch(connection=erp_connection, connector=connector)
    job.refresh_from_db()
    assert job.status == SyncJob.Status.SUCCEEDED


def test_transient_errors_are_dead_lettered_after_max_attempts(erp_connection, erp_server, settings) -> None:
    settings.ERP_JOB_MAX_ATTEMPTS = 3
    _new_company()
    erp_server.stop()

    for _ in range(3):
        SyncJob.objects.update(next_attempt_at=timezone.now())
        services.dispatch(connection=erp_connection)

    job = SyncJob.objects.get()
    assert job.status == SyncJob.Status.DEAD
    assert job.attempts == 3
    assert SyncEvent.objects.filter(job=job, outcome=SyncEvent.Outcome.DEAD).count() == 1
    assert SyncEvent.objects.filter(job=job, outcome=SyncEvent.Outcome.RETRYING).count() == 2


def test_expired_session_logs_in_again(erp_connection, erp_server) -> None:
    client = TrytonClient(erp_server.url, erp_server.database, erp_server.user, erp_server.password)
    client.login()
    client._session_header = "Session " + "cG9ydGFsOjE6bm90LWEtc2Vzc2lvbg=="  # portal:1:not-a-session

    rows = client.model("party.party", "search_read", [["code", "=", "CUST-001"]], 0, 1, None, ["name"])

    assert rows[0]["name"] == "Acme Hardware Co."
    client.close()
