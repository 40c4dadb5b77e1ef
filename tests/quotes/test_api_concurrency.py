"""API calls at the same moment, each on its own database connection: retries with one Idempotency-Key
get one quote or one order and the same answer; accepts with different keys get one order and 409s.

Checked by hand: without the second key lookup under the quote's row lock in ``quote_act_once``, the
same-key accepts after the first answered 409 ("already accepted") instead of replaying it; without
the replay on the key's unique constraint, the same-key requests failed with IntegrityError (500s)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from apps.purchase_orders.models import PurchaseOrder
from apps.quotes.models import Quote, QuoteIdempotencyRecord
from tests.quotes.api_support import LIST, client_for, offered, url
from tests.quotes.conftest import Team

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks"),
]

CALLS = 4


def _at_once(call: Callable[[int], Any]) -> list[Any]:
    barrier = threading.Barrier(CALLS)
    results: list[Any] = [None] * CALLS
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            connection.ensure_connection()
            barrier.wait(timeout=30)
            results[index] = call(index)
        except BaseException as exc:  # any failure in a thread fails the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(CALLS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    return results


def test_simultaneous_accepts_with_one_key_make_one_order_and_answer_alike(team: Team) -> None:
    quote = offered(team)
    clients = [client_for(team.buyer) for _ in range(CALLS)]

    responses = _at_once(
        lambda index: clients[index].post(url(quote, "accept"), {}, format="json", HTTP_IDEMPOTENCY_KEY="a")
    )

    order = PurchaseOrder.objects.get()
    assert [response.status_code for response in responses] == [200] * CALLS
    assert {response.json()["purchase_order"]["id"] for response in responses} == {order.pk}
    assert QuoteIdempotencyRecord.objects.count() == 1


def test_simultaneous_accepts_with_different_keys_make_one_order_and_409s(team: Team) -> None:
    quote = offered(team)
    clients = [client_for(team.buyer) for _ in range(CALLS)]

    responses = _at_once(
        lambda index: clients[index].post(
            url(quote, "accept"), {}, format="json", HTTP_IDEMPOTENCY_KEY=f"a-{index}"
        )
    )

    order = PurchaseOrder.objects.get()
    assert sorted(response.status_code for response in responses) == [200] + [409] * (CALLS - 1)
    refused = [response.json() for response in responses if response.status_code == 409]
    assert {body["purchase_order_id"] for body in refused} == {order.pk}


def test_simultaneous_requests_with_one_key_make_one_quote(team: Team) -> None:
    clients = [client_for(team.buyer) for _ in range(CALLS)]
    body = {"message": "Price?", "lines": [{"sku": "BOLT", "quantity": "5"}]}

    responses = _at_once(
        lambda index: clients[index].post(LIST, body, format="json", HTTP_IDEMPOTENCY_KEY="rq")
    )

    quote = Quote.objects.get()
    assert sorted(response.status_code for response in responses) == [200] * (CALLS - 1) + [201]
    assert {response.json()["id"] for response in responses} == {quote.pk}
