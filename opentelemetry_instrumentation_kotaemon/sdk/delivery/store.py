"""Pending batches the collector has not taken yet: the interface every store implements, and the in-memory one."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Batch:
    """One export the collector has not taken yet, self-contained: its OTLP request, resource included."""

    signal: str  # "traces" or "logs"
    payload: bytes  # the serialized ExportTraceServiceRequest / ExportLogsServiceRequest protobuf
    items: int  # spans or log records in it
    created: float  # time.time() of its first failed attempt


class BatchStore(Protocol):
    """Pending batches, oldest first, bounded by bytes and by age; thread-safe."""

    def put(self, batch: Batch) -> list[Batch]:
        """Keep `batch`; returns what was evicted (oldest first) to stay within the bounds."""
        ...

    def oldest(self) -> Batch | None:
        """The next batch to send, or None when nothing is pending."""
        ...

    def remove(self, batch: Batch) -> None:
        """Forget `batch`: delivered, or rejected as bad data."""
        ...

    def expire(self, now: float) -> list[Batch]:
        """Drop and return the batches older than the age bound."""
        ...

    def pending(self) -> tuple[int, int]:
        """(batches, items) held."""
        ...

    def close(self) -> None:
        """At shutdown: the memory store forgets, a spool keeps its files."""
        ...


class MemoryStore:
    """Batches held in memory: at most `max_bytes` of payload, none older than `max_age` seconds."""

    def __init__(self, max_bytes: int, max_age: float) -> None:
        self._max_bytes = max_bytes
        self._max_age = max_age
        self._batches: deque[Batch] = deque()
        self._bytes = 0
        self._items = 0
        self._lock = threading.Lock()

    def put(self, batch: Batch) -> list[Batch]:
        evicted: list[Batch] = []
        with self._lock:
            self._batches.append(batch)
            self._bytes += len(batch.payload)
            self._items += batch.items
            while self._bytes > self._max_bytes and self._batches:
                evicted.append(self._pop_oldest())
        return evicted

    def oldest(self) -> Batch | None:
        with self._lock:
            return self._batches[0] if self._batches else None

    def remove(self, batch: Batch) -> None:
        with self._lock:
            if self._batches and self._batches[0] is batch:
                self._pop_oldest()
                return
            for index, held in enumerate(self._batches):
                if held is batch:
                    del self._batches[index]
                    self._bytes -= len(batch.payload)
                    self._items -= batch.items
                    return

    def expire(self, now: float) -> list[Batch]:
        expired: list[Batch] = []
        with self._lock:
            while self._batches and now - self._batches[0].created > self._max_age:
                expired.append(self._pop_oldest())
        return expired

    def pending(self) -> tuple[int, int]:
        with self._lock:
            return len(self._batches), self._items

    def close(self) -> None:
        with self._lock:
            self._batches.clear()
            self._bytes = 0
            self._items = 0

    def _pop_oldest(self) -> Batch:
        batch = self._batches.popleft()
        self._bytes -= len(batch.payload)
        self._items -= batch.items
        return batch
