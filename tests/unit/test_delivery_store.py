"""The in-memory store of held batches (bounds, oldest first) and how one attempt's answer is classified."""

from __future__ import annotations

import time
from email.utils import formatdate

import pytest

from opentelemetry_instrumentation_kotaemon.sdk.delivery.store import Batch, MemoryStore
from opentelemetry_instrumentation_kotaemon.sdk.delivery.transport import Result, http_outcome, retry_after_seconds


def _batch(size: int, created: float = 0.0, items: int = 1) -> Batch:
    return Batch("traces", b"x" * size, items, created)


def test_past_the_byte_bound_the_oldest_go_first() -> None:
    store = MemoryStore(max_bytes=25, max_age=60)
    first, second, third = _batch(10, items=2), _batch(10, items=3), _batch(10, items=4)
    assert store.put(first) == [] and store.put(second) == []
    assert store.put(third) == [first]
    assert store.pending() == (2, 7) and store.oldest() is second
    store.remove(third)  # not the oldest: delivered out of turn
    assert store.pending() == (1, 3) and store.oldest() is second
    store.remove(second)
    assert store.pending() == (0, 0) and store.oldest() is None


def test_a_batch_larger_than_the_bound_is_not_kept() -> None:
    store = MemoryStore(max_bytes=5, max_age=60)
    big = _batch(6)
    assert store.put(big) == [big] and store.pending() == (0, 0)


def test_batches_older_than_the_age_bound_expire_oldest_first() -> None:
    store = MemoryStore(max_bytes=1000, max_age=10)
    old, young = _batch(1, created=100.0), _batch(1, created=105.0)
    store.put(old)
    store.put(young)
    assert store.expire(now=111.0) == [old]
    assert store.expire(now=111.0) == [] and store.oldest() is young
    store.close()
    assert store.pending() == (0, 0)


@pytest.mark.parametrize(
    ("status", "result"),
    [
        (200, Result.DELIVERED),
        (204, Result.DELIVERED),
        (429, Result.RETRY),
        (502, Result.RETRY),
        (503, Result.RETRY),
        (504, Result.RETRY),
        (400, Result.REJECTED),
        (401, Result.REJECTED),
        (404, Result.REJECTED),
        (500, Result.REJECTED),
    ],
)
def test_http_answers_are_delivered_retried_or_rejected_as_otlp_says(status: int, result: Result) -> None:
    assert http_outcome(status, "reason", None).result is result


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert retry_after_seconds("2") == 2.0
    assert retry_after_seconds(" 1.5 ") == 1.5
    assert retry_after_seconds("-3") == 0.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None
    assert retry_after_seconds("inf") is None
    in_ten = retry_after_seconds(formatdate(time.time() + 10, usegmt=True))
    assert in_ten is not None and 8 <= in_ten <= 10
    assert http_outcome(503, "Service Unavailable", "2").retry_after == 2.0
    assert http_outcome(400, "Bad Request", "2").retry_after is None
