"""The Redis broker, for real: what REDIS_URL switches django-q2 to."""

from __future__ import annotations

import os
import uuid

import pytest
import redis
from django_q.brokers.redis_broker import Redis
from django_q.conf import Conf

REDIS_URL = os.environ.get("REDIS_URL_FOR_TESTS", "redis://127.0.0.1:6379/15")


@pytest.fixture
def redis_broker(monkeypatch: pytest.MonkeyPatch) -> Redis:
    try:
        redis.from_url(REDIS_URL).ping()
    except redis.ConnectionError:
        pytest.fail(f"Redis is not answering at {REDIS_URL}; .ci/run starts it, or set REDIS_URL_FOR_TESTS.")
    monkeypatch.setattr(Conf, "REDIS", REDIS_URL)
    broker = Redis(list_key=f"portal-test-{uuid.uuid4().hex}")
    yield broker
    broker.delete_queue()


def test_redis_broker_round_trip(redis_broker: Redis) -> None:
    assert redis_broker.ping()

    redis_broker.enqueue("payload-1")
    assert redis_broker.queue_size() == 1
    _task_id, payload = redis_broker.dequeue()[0]

    assert payload == b"payload-1"
    assert redis_broker.queue_size() == 0


def test_health_report_uses_the_configured_redis_broker(redis_broker: Redis, db: None, monkeypatch) -> None:
    from apps.core import selectors

    monkeypatch.setattr(selectors, "get_broker", lambda: redis_broker)
    redis_broker.enqueue("waiting")

    broker_check = next(check for check in selectors.health_report().checks if check.name == "Broker")

    assert broker_check.healthy
    assert "1 task(s) queued" in broker_check.detail
