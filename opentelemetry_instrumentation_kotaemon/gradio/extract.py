"""Read Gradio's queue events and event functions into records. No patching, no spans here.

Gradio (4.x to 6.x) keeps the same shapes here: a queue `Event` has `_id`, `session_hash`, `fn` (a
`BlockFunction`) and `request`; a `BlockFunction` has `_id`, `name`, `api_name` and `trigger_after` (the index of
the function it is chained after with `.then()` / `.success()`), and `Queue.blocks.fns` maps indexes to functions.
Anything missing reads as None.
"""

from __future__ import annotations

from typing import Any

from ..core.spans import AppEvent

FRAMEWORK = "gradio"
_MAX_CHAIN = 64
"""How far back a chain of `.then()` events is followed (a guard against a cyclic configuration)."""


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def app_event(event: Any) -> AppEvent | None:
    """The record of a queue event, or None when it does not look like one."""
    fn = getattr(event, "fn", None)
    if fn is None:
        return None
    function = _text(getattr(fn, "name", None))
    name = _text(getattr(fn, "api_name", None)) or function
    if name is None:
        return None
    return AppEvent(
        name=name,
        framework=FRAMEWORK,
        function=function,
        session_id=_text(getattr(event, "session_hash", None)),
        event_id=_text(getattr(event, "_id", None)),
    )


def function_id(event: Any) -> Any:
    """The index of the event's function (what `trigger_after` of a chained function refers to)."""
    return getattr(getattr(event, "fn", None), "_id", None)


def predecessors(queue: Any, event: Any) -> list[Any]:
    """Indexes of the functions the event's function is chained after, nearest first."""
    functions = getattr(getattr(queue, "blocks", None), "fns", None)
    found: list[Any] = []
    previous = getattr(getattr(event, "fn", None), "trigger_after", None)
    while previous is not None and len(found) < _MAX_CHAIN and previous not in found:
        found.append(previous)
        function = functions.get(previous) if isinstance(functions, dict) else None
        previous = getattr(function, "trigger_after", None)
    return found


def request_headers(event: Any) -> Any:
    """The headers of the request that queued the event (a case-insensitive mapping), or None."""
    return getattr(getattr(event, "request", None), "headers", None)


def status(queue: Any, event: Any) -> str | None:
    """How Gradio says the event ended: success, failed or cancelled (None when it keeps no record)."""
    analytics = getattr(queue, "event_analytics", None)
    record = analytics.get(getattr(event, "_id", None)) if isinstance(analytics, dict) else None
    value = record.get("status") if isinstance(record, dict) else None
    return value if value in ("success", "failed", "cancelled") else None
