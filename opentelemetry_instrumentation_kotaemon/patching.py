"""Applying and removing wrappers: lazily when a target module is imported, and completely on uninstrument.

Post-import hooks cannot be unregistered (wrapt has no API for it), so each module gets exactly one hook per
process, which dispatches to whatever `Patcher` currently wants that module. After `uninstrument()` the hook
finds nothing to do; a later `instrument()` reuses it instead of stacking a second one.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from types import ModuleType
from typing import Any

import wrapt

from .versions import SUPPORTED_VERSIONS, in_range

logger = logging.getLogger(__name__)

Wrapper = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]

_lock = threading.Lock()
_hooked_modules: set[str] = set()
_on_import: dict[str, Callable[[ModuleType], None]] = {}
_version_warned: set[str] = set()


def _dispatch(module: ModuleType) -> None:
    callback = _on_import.get(module.__name__)
    if callback is not None:
        callback(module)


def when_imported(module_name: str, callback: Callable[[ModuleType], None]) -> None:
    """Run `callback(module)` now if the module is loaded, else right after it is first imported."""
    with _lock:
        _on_import[module_name] = callback
        first = module_name not in _hooked_modules
        _hooked_modules.add(module_name)
    if first:
        wrapt.register_post_import_hook(_dispatch, module_name)
    elif module_name in sys.modules:
        callback(sys.modules[module_name])


def forget(module_name: str) -> None:
    """Stop acting on a module's import (its one hook stays registered and does nothing)."""
    with _lock:
        _on_import.pop(module_name, None)


def check_version(distribution: str, supported: str | None = None) -> None:
    """Log one warning if the installed distribution is outside the range we test against: `supported`, by default
    its range in `versions.SUPPORTED_VERSIONS`."""
    if distribution in _version_warned:
        return
    try:
        installed = metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return
    if supported is None:
        supported = SUPPORTED_VERSIONS.get(distribution, "")
    if not in_range(installed, supported):
        _version_warned.add(distribution)
        logger.warning(
            "%s %s is outside the tested range %s; it is instrumented, but some data may be missing",
            distribution,
            installed,
            supported,
        )


@dataclass(frozen=True)
class Target:
    """A method to wrap: `module` is imported lazily, `path` is ``Class.method`` inside it."""

    module: str
    path: str
    wrapper: Wrapper
    optional: bool = True


class Patcher:
    """Wraps a set of targets when their modules load, and removes every wrapper it applied."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._applied: list[tuple[Any, str, Any]] = []
        self._modules: list[str] = []
        self._cleanups: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def patch(self, targets: list[Target], before_wrapping: Callable[[], None] | None = None) -> None:
        """Register the targets; each module's methods are wrapped as soon as it is imported."""
        by_module: dict[str, list[Target]] = {}
        for target in targets:
            by_module.setdefault(target.module, []).append(target)
        for module_name, module_targets in by_module.items():
            self._modules.append(module_name)
            when_imported(module_name, self._applier(module_targets, before_wrapping))

    def on_import(self, module_name: str, callback: Callable[[ModuleType], None]) -> None:
        """Run `callback(module)` when the module is imported (now if it already is), until `unpatch()`."""
        self._modules.append(module_name)
        when_imported(module_name, callback)

    def add_cleanup(self, callback: Callable[[], None]) -> None:
        """Run `callback` on `unpatch()`, for wrappers an integration applies itself."""
        self._cleanups.append(callback)

    def _applier(
        self, targets: list[Target], before_wrapping: Callable[[], None] | None
    ) -> Callable[[ModuleType], None]:
        def apply(module: ModuleType) -> None:
            if before_wrapping is not None:
                try:
                    before_wrapping()
                except Exception:
                    logger.debug("%s: import callback failed", self.name, exc_info=True)
            for target in targets:
                self._wrap(module, target)

        return apply

    def _wrap(self, module: ModuleType, target: Target) -> None:
        owner_path, _, attribute = target.path.rpartition(".")
        try:
            owner: Any = module
            for part in owner_path.split(".") if owner_path else ():
                owner = getattr(owner, part)
            original = owner.__dict__[attribute] if isinstance(owner, type) else getattr(owner, attribute)
        except (AttributeError, KeyError):
            log = logger.debug if target.optional else logger.warning
            log("%s: %s.%s not found; not instrumented", self.name, target.module, target.path)
            return
        with self._lock:
            if isinstance(original, wrapt.FunctionWrapper) and getattr(original, "_self_kotaemon", False):
                return  # already ours
            wrapped = wrapt.FunctionWrapper(original, target.wrapper)
            wrapped._self_kotaemon = True  # type: ignore[attr-defined]
            setattr(owner, attribute, wrapped)
            self._applied.append((owner, attribute, original))

    def unpatch(self) -> None:
        """Restore every original method and stop patching modules imported later."""
        for module_name in self._modules:
            forget(module_name)
        self._modules.clear()
        with self._lock:
            applied, self._applied = self._applied, []
        for owner, attribute, original in reversed(applied):
            current = owner.__dict__.get(attribute) if isinstance(owner, type) else getattr(owner, attribute, None)
            if getattr(current, "_self_kotaemon", False):
                setattr(owner, attribute, original)
            else:
                logger.debug("%s: %s was re-wrapped by someone else; left in place", self.name, attribute)
        cleanups, self._cleanups = self._cleanups, []
        for cleanup in reversed(cleanups):
            try:
                cleanup()
            except Exception:
                logger.debug("%s: cleanup failed", self.name, exc_info=True)
