"""Two accepts of one quote at the same moment, each on its own database connection, make one order.

The quote row lock serialises them: the second finds the quote ordered and returns the first's order.
Checked by hand: with ``select_for_update()`` taken out of ``_locked``, the other accepts also saw the
quote offered and failed with IntegrityError (the order number, the quote's number by default, is
unique per company), so this test failed on ``errors``; the unique link quote -> order is a further
guard behind the lock."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from apps.purchase_orders.models import PurchaseOrder
from apps.quotes import services as quotes
from apps.quotes.models import Quote
from tests.quotes.conftest import NOW, Team, refreshed

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks"),
]

CLICKS = 4


def test_simultaneous_accepts_make_one_order(team: Team, quote_in: Any) -> None:
    quote = quote_in(Quote.Status.OFFERED)
    barrier = threading.Barrier(CLICKS)
    results: list[int | None] = []
    errors: list[BaseException] = []

    def accept() -> None:
        try:
            connection.ensure_connection()
            barrier.wait(timeout=30)
            results.append(quotes.quote_accept(quote=quote, actor=team.buyer, now=NOW).purchase_order_id)
        except BaseException as exc:  # any failure in a thread fails the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=accept) for _ in range(CLICKS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    order = PurchaseOrder.objects.get()
    assert results == [order.pk] * CLICKS
    quote = refreshed(quote)
    assert (quote.status, quote.purchase_order_id) == (Quote.Status.ORDERED, order.pk)
    assert [event.to_status for event in quote.events.all()].count(Quote.Status.ORDERED) == 1
