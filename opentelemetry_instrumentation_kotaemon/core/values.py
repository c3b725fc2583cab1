"""Numbers read from requests and responses of any shape, kept only when they are valid attribute values."""

from __future__ import annotations

from typing import Any

_INT64 = (-(2**63), 2**63 - 1)


def number(value: Any) -> int | float | None:
    """`value` if it is an int (within int64, as OTLP carries it) or a float; booleans are not numbers here."""
    if isinstance(value, float):
        return value
    return whole_number(value)


def whole_number(value: Any) -> int | None:
    """`value` if it is an int within int64 (a token or document count); booleans are not numbers here."""
    if isinstance(value, int) and not isinstance(value, bool) and _INT64[0] <= value <= _INT64[1]:
        return value
    return None
