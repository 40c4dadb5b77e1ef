"""Orders of one company submitted at the same moment never pass its credit limit together.

Twelve buyers submit a 150.00 order each, all at once, against a 1,000.00 limit. The checks must run one
after the other under the company's row lock, so exactly six are approved (900.00; a seventh would make
1,050.00) and the other six wait for finance.

With ``CREDIT_EXPOSURE_INCLUDES_ORDERS_IN_FLOW`` on, a held order still counts, so the n-th check (from 0)
sees 150.00 * n whatever became of the earlier ones; off, held orders do not count, but once six are
approved every later check sees 900.00 and holds. Either way six are approved; what the held ones saw
tells the two settings apart, and each approval's history note says what was left at that moment.

Without the lock the checks overlap: each reads the exposure before the others commit, and far more
than six are approved. Checked by hand on a scratch copy of the code: with the company row lock taken
out of both places that take it on this path, ``purchase_order_submit`` (its ``select_for_update()`` with
``select_related("company")`` locks the company row too) and ``purchase_order_credit_check``, all 12 of
12 were approved (1,800.00 against 1,000.00) on every run; either lock alone keeps this test green.
"""

from __future__ import annotations

import threading
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import AbstractUser
from django.core import mail
from django.db import connection

from apps.accounts.models import Role
from apps.credit.models import CreditHold
from apps.erp.models import SyncJob
from apps.purchase_orders import services as orders
from apps.purchase_orders.erp import ORDER_PUSH
from apps.purchase_orders.lines import ParsedLine
from apps.purchase_orders.models import PurchaseOrder
from apps.purchase_orders.services import purchase_order_submit_and_route
from tests.accounts.factories import CompanyFactory, MembershipFactory, ShipToAddressFactory, UserFactory
from tests.catalog.factories import ProductFactory
from tests.credit.factories import CreditAccountFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL row locks (CI runs on PostgreSQL); SQLite serialises every write anyway",
    ),
]

D = Decimal
Status = PurchaseOrder.Status
LIMIT = D("1000.00")
AMOUNT = D("150.00")
BUYERS = 12
FITS = int(LIMIT // AMOUNT)  # 6


@pytest.fixture
def drafts(settings: pytest.FixtureRequest) -> list[tuple[PurchaseOrder, AbstractUser]]:
    """One ready-to-submit draft of 150.00 per buyer, all of one company."""
    settings.CREDIT_PAST_DUE_TOLERANCE_DAYS = 0  # type: ignore[attr-defined]
    settings.CREDIT_HOLD_EMAILS = ["credit@wholesaler.example"]  # type: ignore[attr-defined]
    company = CompanyFactory(name="Acme")
    CreditAccountFactory(company=company, credit_limit=LIMIT)
    ProductFactory(sku="BOLT", list_price=D("150.0000"))
    ship_to = ShipToAddressFactory(company=company, is_default=True)
    ready = []
    for n in range(BUYERS):
        buyer = MembershipFactory(
            company=company, role=Role.BUYER, user=UserFactory(email=f"buyer{n}@acme.example")
        ).user
        order = orders.purchase_order_draft_get(company=company, buyer=buyer)
        order.customer_po_number, order.ship_to = f"PO-{n:02}", ship_to
        order.save()
        orders.purchase_order_lines_add(purchase_order=order, lines=[ParsedLine(1, "BOLT", D("1"), "")])
        ready.append((order, buyer))
    return ready


def _submit_all_at_once(drafts: list[tuple[PurchaseOrder, AbstractUser]]) -> list[BaseException]:
    barrier = threading.Barrier(len(drafts))
    errors: list[BaseException] = []

    def submit(order: PurchaseOrder, buyer: AbstractUser) -> None:
        try:
            connection.ensure_connection()  # connect first, so that only the submits race
            barrier.wait(timeout=30)
            purchase_order_submit_and_route(purchase_order=order, actor=buyer)
        except BaseException as exc:  # any failure in a thread fails the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=pair) for pair in drafts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return errors


@pytest.mark.parametrize("in_flow_counts", [True, False], ids=["in-flow-counted", "in-flow-not-counted"])
def test_simultaneous_submits_never_pass_the_limit_together(
    settings: Any, drafts: list[tuple[PurchaseOrder, AbstractUser]], in_flow_counts: bool
) -> None:
    settings.CREDIT_EXPOSURE_INCLUDES_ORDERS_IN_FLOW = in_flow_counts

    errors = _submit_all_at_once(drafts)

    assert errors == []
    submitted = list(PurchaseOrder.objects.filter(pk__in=[order.pk for order, _ in drafts]))
    approved = [order for order in submitted if order.status == Status.APPROVED]
    held = [order for order in submitted if order.status == Status.CREDIT_HOLD]
    assert Counter(order.status for order in submitted) == {
        Status.APPROVED: FITS,
        Status.CREDIT_HOLD: BUYERS - FITS,
    }
    assert sum(order.total_amount for order in approved) == AMOUNT * FITS <= LIMIT
    # Each approval saw every earlier one: 850.00 left after the first, ..., 100.00 after the sixth.
    notes = sorted(
        (order.status_changes.get(to_status=Status.APPROVED).note for order in approved), reverse=True
    )
    assert notes == [
        f"no approval rule applies; within credit: {LIMIT - AMOUNT * (n + 1)} USD left" for n in range(FITS)
    ]
    holds = list(CreditHold.objects.order_by("exposure", "id"))
    assert {hold.purchase_order_id for hold in holds} == {order.pk for order in held}
    assert {(tuple(hold.reasons), hold.credit_limit, hold.order_amount) for hold in holds} == {
        (("over_limit",), LIMIT, AMOUNT)
    }
    if in_flow_counts:
        expected = [AMOUNT * n for n in range(FITS, BUYERS)]  # 900.00, 1,050.00, ..., 1,650.00
    else:
        expected = [AMOUNT * FITS] * (BUYERS - FITS)  # 900.00 approved; the held ones do not count
    assert [hold.exposure for hold in holds] == expected
    assert sorted(SyncJob.objects.filter(kind=ORDER_PUSH).values_list("target_id", flat=True)) == sorted(
        str(order.pk) for order in approved
    )
    # Each hold told its buyer and finance once, after its own commit.
    assert sorted(message.to[0] for message in mail.outbox) == sorted(
        [order.submitted_by.email for order in held] + ["credit@wholesaler.example"] * len(held)
    )
