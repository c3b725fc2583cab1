"""Readers shared by every extractor: values read from requests and responses of any shape, kept only when they are
valid attribute values, and the small lookups several libraries need (server address, message roles)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

_INT64 = (-(2**63), 2**63 - 1)

DEFAULT_PORTS = {"https": 443, "http": 80}
"""The port a URL without one uses, by scheme."""

MESSAGE_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool", "function": "tool"}
"""GenAI roles by LangChain message type (Kotaemon's messages are LangChain's)."""


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


def first_number(*values: Any) -> int | float | None:
    """The first of `values` that is a number: an explicit 0 counts, only what is missing falls through."""
    for value in values:
        found = number(value)
        if found is not None:
            return found
    return None


def first_whole_number(*values: Any) -> int | None:
    """The first of `values` that is a whole number (0 included)."""
    for value in values:
        found = whole_number(value)
        if found is not None:
            return found
    return None


def text(value: Any) -> str | None:
    """`value` if it is a string (empty included)."""
    return value if isinstance(value, str) else None


def nonempty_text(value: Any) -> str | None:
    """`value` if it is a string with something in it."""
    return value if isinstance(value, str) and value else None


def strings(value: Any) -> list[str] | None:
    """A string, or a non-empty list or tuple of strings, as a list; None for anything else."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def items(value: Any) -> list[Any] | tuple[Any, ...]:
    """`value` if it is a list or tuple, else an empty tuple (servers and apps send odd shapes)."""
    return value if isinstance(value, (list, tuple)) else ()


def mapping(value: Any) -> Mapping[str, Any]:
    """`value` if it is a mapping, else an empty one."""
    return value if isinstance(value, Mapping) else {}


def server_of_url(url: Any) -> tuple[str | None, int | None]:
    """Host and port (the scheme's default when the URL has none) of a URL string; Nones when it is not one."""
    if not isinstance(url, str) or not url:
        return None, None
    try:
        parts = urlsplit(url)
        return parts.hostname or None, parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None, None
