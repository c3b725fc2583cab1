"""The package's layers import downwards only: settings and names at the bottom, then the core, then the
integrations, the SDK side and the command line."""

from __future__ import annotations

import ast
from pathlib import Path

import opentelemetry_instrumentation_kotaemon as package
from opentelemetry_instrumentation_kotaemon.core import redaction
from opentelemetry_instrumentation_kotaemon.settings import REDACTION_RULES

ROOT = Path(package.__file__).parent
LEAVES = ("settings", "attributes", "versions", "version")
FORBIDDEN = {
    "core": ("openai", "langchain", "kotaemon", "sdk", "cli", "instrumentor", "patching"),
    "openai": ("langchain", "kotaemon", "sdk", "cli"),
    "langchain": ("openai", "kotaemon", "sdk", "cli"),
    "kotaemon": ("openai", "langchain", "sdk", "cli"),
    "sdk": ("openai", "langchain", "kotaemon", "cli", "instrumentor"),
}


def _imports(path: Path) -> set[str]:
    """The package modules `path` imports, as their first name below the package (`core`, `settings`...)."""
    package_parts = path.relative_to(ROOT).parent.parts
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = list(package_parts[: len(package_parts) - node.level + 1])
            parts = base + (node.module.split(".") if node.module else [])
            names = [parts[0]] if parts else [alias.name for alias in node.names]
            found.update(names)
    return found


def test_leaf_modules_import_nothing_of_the_package() -> None:
    for leaf in LEAVES:
        assert _imports(ROOT / f"{leaf}.py") <= set(LEAVES) - {leaf} | {"version"}, leaf


def test_each_layer_imports_downwards_only() -> None:
    for layer, forbidden in FORBIDDEN.items():
        for path in (ROOT / layer).rglob("*.py"):
            wrong = _imports(path) & set(forbidden)
            assert not wrong, f"{path.relative_to(ROOT)} imports {wrong}"


def test_every_redaction_rule_the_settings_accept_has_patterns() -> None:
    assert {name for name, _, _ in redaction._RULES} == set(REDACTION_RULES)
