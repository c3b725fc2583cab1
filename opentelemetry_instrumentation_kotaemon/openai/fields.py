"""Reading the OpenAI client's request parameters and response objects: pydantic models or dicts, with the client's
"not given" sentinels."""

from __future__ import annotations

from typing import Any

from ..core.values import number, whole_number


def given(value: Any) -> Any:
    """The value, or None for the client's "not given" sentinels (`NOT_GIVEN`, `omit`)."""
    if value is None or type(value).__name__ in ("NotGiven", "Omit"):
        return None
    return value


def given_number(value: Any) -> int | float | None:
    """A numeric request parameter; None for the client's "not given" sentinels."""
    return number(given(value))


def given_whole_number(value: Any) -> int | None:
    """An integer request parameter; None for the client's "not given" sentinels."""
    return whole_number(given(value))


def given_strings(value: Any) -> list[str] | None:
    value = given(value)
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def index_of(value: Any) -> int:
    return value if isinstance(value, int) else 0


def field(obj: Any, name: str) -> Any:
    """A field of a pydantic object or a dict."""
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)
