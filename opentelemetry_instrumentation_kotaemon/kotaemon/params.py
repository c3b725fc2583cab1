"""Reading a Kotaemon component's settings and a call's arguments without side effects.

Components are theflow `Function`s: reading a Param through its descriptor may compute an auto Param (loading a
model), consult theflow's context, or return theflow's falsy `unset` sentinel. So values are read from the set
values theflow keeps in `_attrx`, then from a plain declared default, never through `getattr` or `params`.
"""

from __future__ import annotations

import inspect
import weakref
from typing import Any

_MISSING = object()
_SIGNATURES: weakref.WeakKeyDictionary[Any, tuple[inspect.Signature, inspect.Signature]] = weakref.WeakKeyDictionary()
"""Each traced function's signature, called plainly and as a bound method (reading one takes longer than a call)."""


def _is_sentinel(value: Any) -> bool:
    return type(value).__name__ in ("unset_", "lazy")


def setting(obj: Any, name: str) -> Any:
    """A Param or plain attribute of a component, or None: never computed, never `unset`."""
    state = getattr(obj, "__dict__", {})
    stored = state.get("_attrx")
    value: Any = _MISSING
    if isinstance(stored, dict):
        for section in ("ParamAttr", "AllowExtraParam"):
            values = stored.get(section)
            if isinstance(values, dict) and name in values:
                value = values[name]
                break
    if value is _MISSING and name in state:
        value = state[name]
    if value is _MISSING:
        for klass in type(obj).__mro__:
            declared = klass.__dict__.get(name, _MISSING)
            if declared is _MISSING:
                continue
            if hasattr(declared, "_auto_callback") and hasattr(declared, "_default"):
                # a theflow Param: use its plain default, never an auto or default callback
                value = None if not _is_sentinel(declared._auto_callback) else declared._default
            elif not callable(declared) and not isinstance(declared, (property, classmethod, staticmethod)):
                value = declared
            break
    if value is _MISSING or _is_sentinel(value):
        return None
    return value


def lc_setting(obj: Any, *names: str) -> Any:
    """A value the LangChain-based wrappers keep in their `_kwargs` (where declared Params would shadow it)."""
    kwargs = getattr(obj, "__dict__", {}).get("_kwargs")
    if not isinstance(kwargs, dict):
        return None
    for name in names:
        value = kwargs.get(name)
        if value is not None and not _is_sentinel(value):
            return value
    return None


def first_setting(obj: Any, *names: str) -> Any:
    for name in names:
        value = lc_setting(obj, name)
        if value is None:
            value = setting(obj, name)
        if value is not None:
            return value
    return None


def step_name(obj: Any) -> str | None:
    """theflow's name for this component in the pipeline running it on this thread ("" at a root)."""
    backend = getattr(obj, "__dict__", {}).get("fl")
    try:
        name = backend.name if backend is not None else None
    except Exception:
        return None
    return name if isinstance(name, str) and name else None


def bind(method: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The call's arguments by parameter name (callers use both positional and keyword styles)."""
    try:
        signature = _signature(method)
        bound = signature.bind_partial(*args, **kwargs)
    except (TypeError, ValueError):
        return dict(kwargs)
    values = dict(bound.arguments)
    for name, parameter in signature.parameters.items():
        if parameter.kind is inspect.Parameter.VAR_KEYWORD and isinstance(values.get(name), dict):
            values.update(values.pop(name))
    return values


def _signature(method: Any) -> inspect.Signature:
    """`inspect.signature(method)`, read once per function."""
    function = getattr(method, "__func__", None)
    is_bound = function is not None and getattr(method, "__self__", None) is not None
    key: Any = function if is_bound else method
    try:
        cached = _SIGNATURES.get(key)
    except TypeError:  # not weakly referenceable
        return inspect.signature(method)
    if cached is None:
        plain = inspect.signature(key)
        parameters = list(plain.parameters.values())
        if parameters and parameters[0].kind in (
            inspect.Parameter.POSITIONAL_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        ):
            parameters = parameters[1:]
        cached = (plain, plain.replace(parameters=parameters))
        _SIGNATURES[key] = cached
    return cached[1] if is_bound else cached[0]
