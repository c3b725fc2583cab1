"""The library versions this package is tested against, in one table.

Read by the instrumentation (one warning when an installed library is outside its range: it is instrumented all the
same), by `opentelemetry-kotaemon doctor` (counted as a problem), and quoted in the README (`markdown_table`).
"""

from __future__ import annotations

from dataclasses import dataclass

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version


@dataclass(frozen=True)
class SupportedLibrary:
    """A library distribution, the integration of ours that covers it, and the versions it is tested against."""

    distribution: str
    integration: str
    """The name `OTEL_KOTAEMON_INSTRUMENT` takes for the integration."""
    versions: str
    """A PEP 440 version specifier."""


SUPPORTED_LIBRARIES = (
    SupportedLibrary("openai", "openai", ">=1.26,<4"),  # Kotaemon's lock pins openai<2
    SupportedLibrary("langchain-core", "langchain", ">=0.2.43,<2"),  # Kotaemon's lock has 0.2.43
    SupportedLibrary("langchain-openai", "langchain", ">=0.1.25,<2"),
    SupportedLibrary("kotaemon", "kotaemon", ">=0.10,<1"),
    SupportedLibrary("theflow", "kotaemon", ">=0.8.6,<0.9"),
)

SUPPORTED_VERSIONS = {library.distribution: library.versions for library in SUPPORTED_LIBRARIES}
"""The tested range of each library distribution."""


def in_range(version: str, versions: str) -> bool:
    """Whether `version` is inside the range `versions` (a version that cannot be parsed is not)."""
    try:
        return Version(version) in SpecifierSet(versions)
    except (InvalidVersion, InvalidSpecifier):
        return False


def markdown_table() -> str:
    """The table as the README shows it."""
    lines = ["| Library | Tested versions | Integration |", "| --- | --- | --- |"]
    lines += [f"| `{lib.distribution}` | `{lib.versions}` | `{lib.integration}` |" for lib in SUPPORTED_LIBRARIES]
    return "\n".join(lines)
