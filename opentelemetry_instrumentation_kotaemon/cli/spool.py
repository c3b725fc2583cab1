"""`opentelemetry-kotaemon spool`: what waits in the spool on disk, per service; with `--send`, send it now.

Sending takes the files of ended processes (as the next start of the service would), sends them oldest first to the
collector the environment names (`OTEL_EXPORTER_OTLP_*`, as the app exports), and deletes what the collector took.
Files of running processes are theirs to send and are left alone.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..sdk.spool import SpoolStore, WaitingService, waiting
from ..settings import SPOOL_MAX_BYTES

_ITEM_NAMES = {"traces": ("span", "spans"), "logs": ("log record", "log records")}


def _count(items: int, signal: str) -> str:
    singular, plural = _ITEM_NAMES.get(signal, ("item", "items"))
    return f"{items:,} {singular if items == 1 else plural}"


def _size(size: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{max(seconds, 0):.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def describe(service: WaitingService, now: float) -> str:
    """One line about what waits for `service`."""
    if not service.batches:
        text = f"{service.name}: nothing waiting"
    else:
        items = ", ".join(_count(count, signal) for signal, count in sorted(service.items.items(), reverse=True))
        age = f", oldest {_age(now - service.oldest)} old" if service.oldest is not None else ""
        batches = "1 batch" if service.batches == 1 else f"{service.batches:,} batches"
        text = f"{service.name}: {batches} ({items}), {_size(service.size)}{age}"
    if service.running:
        text += f"; {service.running} running process{'es' if service.running > 1 else ''} sending their own"
    if service.corrupt:
        text += f"; {service.corrupt} unreadable file{'s' if service.corrupt > 1 else ''} set aside in corrupt/"
    return text


def list_spool(directory: Path, out: Callable[[str], None]) -> int:
    """Print what waits in the spool at `directory`; 0."""
    services = waiting(directory)
    now = time.time()
    if not services:
        out(f"nothing waiting in {directory}")
    for service in services:
        out(describe(service, now))
        for path in service.unreadable:
            out(f"  cannot read {path}")
    return 0


def send_spool(directory: Path, out: Callable[[str], None], err: Callable[[str], None]) -> int:
    """Send what ended processes left in the spool at `directory`; 0 when all of it was delivered, else 1."""
    from ..sdk.delivery import exporters, transport
    from ..sdk.delivery.transport import Result

    senders: dict[str, tuple[Any, float]] = {}

    def sender(signal: str) -> tuple[Any, float]:
        if signal not in senders:
            senders[signal] = (transport.from_environment(signal), exporters.export_timeout(signal))
        return senders[signal]

    failed = False
    for service in waiting(directory):
        store = SpoolStore(directory, service.name, SPOOL_MAX_BYTES.read(os.environ), math.inf)
        sent: dict[str, int] = {}
        try:
            store.adopt()
            while (batch := store.oldest()) is not None:
                try:
                    to, timeout = sender(batch.signal)
                except Exception as error:
                    err(f"{service.name}: cannot export {batch.signal} from here: {error}")
                    failed = True
                    break
                outcome = to.send(batch.payload, timeout)
                if outcome.result is Result.RETRY:
                    err(f"{service.name}: the collector at {to.endpoint} did not take it ({outcome.detail})")
                    failed = True
                    break
                store.remove(batch)
                if outcome.result is Result.REJECTED:
                    items = _count(batch.items, batch.signal)
                    err(f"{service.name}: the collector at {to.endpoint} rejected {items} ({outcome.detail}); deleted")
                    failed = True
                else:
                    sent[batch.signal] = sent.get(batch.signal, 0) + batch.items
            left = store.pending()[0]
        finally:
            store.close()
        delivered = ", ".join(_count(items, signal) for signal, items in sorted(sent.items(), reverse=True))
        text = f"{service.name}: delivered {delivered or 'nothing'}"
        if left:
            text += f"; {left:,} batch{'es' if left > 1 else ''} still waiting"
        if service.running:
            text += f"; {service.running} running process{'es' if service.running > 1 else ''} sending their own"
        out(text)
    return 1 if failed else 0
