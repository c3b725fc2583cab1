"""`service.instance.id`: one per process, and one per forked child, so that a backend keeps each worker's series apart.

Without it, the workers of a pre-fork server (gunicorn, or anything that forks after `opentelemetry-instrument` set
the SDK up) export their cumulative counters under one identical resource, and a backend merges them into a series
that jumps back and forth (open-telemetry/opentelemetry-python#3885). SDKs from 1.28 or so give every process a random
id and a forked child a new one; SDK 1.27 (Kotaemon's lock) gives none. So after the SDK's setup:

- when the resource has no `service.instance.id`, this process gets a random one (a UUID, as the specification
  recommends);
- in a forked child, the id is replaced by a new one, unless the SDK already did;
- an id you set (`OTEL_RESOURCE_ATTRIBUTES=service.instance.id=...`) wins, in the parent and in every child (newer
  SDKs would replace it in a forked child; every process then shares it, as you asked).

A `Resource` is immutable, and SDK 1.27 hands the one its setup created to the tracer, meter and logger providers and
to every tracer and logger they made: the id is written into that object (and into the providers' current ones on
newer SDKs, which replace them after a fork), so every signal of the process carries the same id.
"""

from __future__ import annotations

import logging
import os
import uuid

from opentelemetry.sdk.resources import OTELResourceDetector, Resource

from ..attributes import SERVICE_INSTANCE_ID

logger = logging.getLogger(__name__)

_state: dict[str, str | None] = {"id": None, "yours": None}


def install() -> None:
    """Give this process its own `service.instance.id` if it has none, and every forked child a new one."""
    try:
        yours = OTELResourceDetector().detect().attributes.get(SERVICE_INSTANCE_ID)
        _state["yours"] = str(yours) if yours else None
        resources = _provider_resources()
        if not resources:  # no SDK providers (a disabled SDK, another configurator): nothing to identify
            return
        current = resources[0].attributes.get(SERVICE_INSTANCE_ID)
        wanted = _state["yours"] or (str(current) if current else str(uuid.uuid4()))
        _state["id"] = wanted
        _write(resources, wanted)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_after_fork_in_child)
    except Exception:  # the identity of telemetry must never fail the app
        logger.debug("could not set service.instance.id", exc_info=True)


def instance_id() -> str | None:
    """The id this process exports with (None before `install`, or without SDK providers)."""
    return _state["id"]


def _after_fork_in_child() -> None:
    try:
        resources = _provider_resources()
        if not resources:
            return
        current = resources[0].attributes.get(SERVICE_INSTANCE_ID)
        if _state["yours"]:
            wanted = _state["yours"]
        elif current and current != _state["id"]:
            wanted = str(current)  # the SDK gave the child its own
        else:
            wanted = str(uuid.uuid4())
        _state["id"] = wanted
        _write(resources, wanted)
    except Exception:  # nor a fork
        logger.debug("could not renew service.instance.id after a fork", exc_info=True)


def _provider_resources() -> list[Resource]:
    """The resources the SDK's tracer, meter and logger providers export with now (each object once)."""
    from opentelemetry import metrics, trace
    from opentelemetry._logs import get_logger_provider

    found: list[Resource] = []
    candidates = (
        getattr(trace.get_tracer_provider(), "_resource", None),
        getattr(getattr(metrics.get_meter_provider(), "_sdk_config", None), "resource", None),
        getattr(get_logger_provider(), "_resource", None),
    )
    for resource in candidates:
        if isinstance(resource, Resource) and not any(resource is seen for seen in found):
            found.append(resource)
    return found


def _write(resources: list[Resource], value: str) -> None:
    for resource in resources:
        if resource.attributes.get(SERVICE_INSTANCE_ID) != value:
            updated = Resource({**resource.attributes, SERVICE_INSTANCE_ID: value}, resource.schema_url)
            resource._attributes = updated._attributes
