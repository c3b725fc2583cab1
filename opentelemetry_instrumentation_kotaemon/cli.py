"""`opentelemetry-kotaemon doctor`, `opentelemetry-kotaemon bootstrap` and `opentelemetry-kotaemon view`.

`doctor` prints what `opentelemetry-instrument` will do in this environment: the effective settings, which
libraries are found and instrumented, which distro and configurator win, duplicate instrumentations installed beside
us, and version skew. `bootstrap` is `opentelemetry-bootstrap` minus the instrumentations that would trace the same
calls as this package twice (the stock command cannot see third-party plugins and suggests those). `view FILE` prints
the telemetry in a file of OTLP JSON lines (our `kotaemon_file` exporters' or a Collector's `file` exporter's): each
trace as a tree, a metrics summary and the log records.
"""

from __future__ import annotations

import argparse
import inspect
import logging
import os
import sys
from collections.abc import Callable, Sequence
from importlib import metadata

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from .distro import DEFAULTS
from .settings import ALL_VARIABLES, ENTRY_POINT_NAME, Settings
from .version import __version__

DISTRIBUTION = "opentelemetry-instrumentation-kotaemon"

# library distribution -> (our integration that covers it, the range we test against)
LIBRARIES = {
    "openai": ("openai", ">=1.26,<4"),
    "langchain-core": ("langchain", ">=0.2.43,<2"),
    "langchain-openai": ("langchain", ">=0.1.25,<2"),
    "kotaemon": ("kotaemon", ""),
    "theflow": ("kotaemon", ">=0.8.6,<0.9"),
    "mcp": ("mcp", ">=1.12,<3"),
}
# Other packages that trace the same calls; installed beside us, each call is traced twice.
DUPLICATES = {
    "opentelemetry-instrumentation-openai": "OpenLLMetry's OpenAI instrumentation",
    "opentelemetry-instrumentation-openai-v2": "the (deprecated) official OpenAI instrumentation",
    "opentelemetry-instrumentation-genai-openai": "the official GenAI OpenAI instrumentation",
    "opentelemetry-instrumentation-langchain": "OpenLLMetry's LangChain instrumentation",
    "opentelemetry-instrumentation-genai-langchain": "the official GenAI LangChain instrumentation",
    "openinference-instrumentation-openai": "OpenInference's OpenAI instrumentation",
    "openinference-instrumentation-langchain": "OpenInference's LangChain instrumentation",
    "traceloop-sdk": "Traceloop's SDK (started from code)",
    "openlit": "OpenLIT (started from code)",
    "langtrace-python-sdk": "Langtrace (started from code)",
}
_OTEL_PACKAGES = ("opentelemetry-api", "opentelemetry-sdk", "opentelemetry-instrumentation", "opentelemetry-distro")


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _in_range(version: str, supported: str) -> bool:
    try:
        return not supported or Version(version) in SpecifierSet(supported)
    except InvalidVersion:
        return False


def _entry_points(group: str) -> list[metadata.EntryPoint]:
    return list(metadata.entry_points(group=group))


def _owner(entry_point: metadata.EntryPoint) -> str:
    dist = getattr(entry_point, "dist", None)
    return str(dist.metadata["Name"]) if dist is not None else "?"


def doctor(out: Callable[[str], None] = print) -> int:
    """Print the report; returns the number of problems found."""
    problems = 0
    out(f"{DISTRIBUTION} {__version__} on Python {sys.version.split()[0]}")

    out("\nLibraries")
    enabled = Settings.from_env().libraries
    for library, (integration, supported) in LIBRARIES.items():
        version = _version(library)
        if version is None:
            out(f"  {library:<18} not installed")
            continue
        state = "instrumented" if integration in enabled else f"not instrumented ({integration} is switched off)"
        if not _in_range(version, supported):
            state += f"; outside the tested range {supported}"
            problems += 1
        out(f"  {library:<18} {version:<10} {state}")

    out("\nOpenTelemetry")
    versions = {name: _version(name) for name in _OTEL_PACKAGES}
    out("  " + ", ".join(f"{name} {version or 'missing'}" for name, version in versions.items()))
    if versions["opentelemetry-api"] != versions["opentelemetry-sdk"]:
        out("  WARNING: opentelemetry-api and opentelemetry-sdk versions differ; install matching releases")
        problems += 1

    out("\nDistro and configurator chosen by opentelemetry-instrument")
    for variable, group in (
        ("OTEL_PYTHON_DISTRO", "opentelemetry_distro"),
        ("OTEL_PYTHON_CONFIGURATOR", "opentelemetry_configurator"),
    ):
        names = [f"{ep.name} ({_owner(ep)})" for ep in _entry_points(group)]
        chosen = os.environ.get(variable) or DEFAULTS.get(variable, ENTRY_POINT_NAME)
        out(f"  {variable}={chosen}   installed: {', '.join(names) or 'none'}")

    out("\nDuplicate instrumentations")
    found = False
    for ep in _entry_points("opentelemetry_instrumentor"):
        owner = _owner(ep)
        if owner in DUPLICATES:
            found = True
            problems += 1
            out(f"  {owner} ({DUPLICATES[owner]}) registers '{ep.name}': calls would be traced twice;")
            out(f"    disable it with OTEL_PYTHON_DISABLED_INSTRUMENTATIONS={ep.name} or uninstall it")
    for distribution, description in DUPLICATES.items():
        if description.endswith("(started from code)") and _version(distribution):
            found = True
            out(f"  {distribution} is installed ({description}): do not start it beside us")
    if not found:
        out("  none")

    out("\nSettings (- means not set: the default applies; a malformed value is warned about above)")
    for variable in ALL_VARIABLES:
        out(f"  {variable:<52} {os.environ.get(variable, '-')}")
    for variable, value in DEFAULTS.items():
        if variable not in os.environ:
            out(f"  {variable:<52} {value} (our default)")
    out(f"\n{problems} problem(s) found")
    return problems


def bootstrap(argv: Sequence[str]) -> None:
    """Run `opentelemetry-bootstrap`, without the instrumentations that duplicate this package."""
    from opentelemetry.instrumentation import bootstrap as otel_bootstrap
    from opentelemetry.instrumentation.bootstrap_gen import libraries

    kept = [lib for lib in libraries if lib["instrumentation"].split("=")[0] not in DUPLICATES]
    sys.argv = ["opentelemetry-bootstrap", *argv]
    if "libraries" in inspect.signature(otel_bootstrap.run).parameters:
        otel_bootstrap.run(libraries=kept)
        return
    saved = getattr(otel_bootstrap, "libraries")  # noqa: B009 - older releases read this module-level table
    setattr(otel_bootstrap, "libraries", kept)  # noqa: B010
    try:
        otel_bootstrap.run()
    finally:
        setattr(otel_bootstrap, "libraries", saved)  # noqa: B010


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the `opentelemetry-kotaemon` command."""
    parser = argparse.ArgumentParser(prog="opentelemetry-kotaemon", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("doctor", help="show what will be instrumented and how, and what to fix")
    commands.add_parser(
        "bootstrap", help="like opentelemetry-bootstrap, without duplicate GenAI instrumentations", add_help=False
    )
    view_command = commands.add_parser("view", help="print the traces, metrics and logs in a file of OTLP JSON lines")
    view_command.add_argument("file", help="a file written by the kotaemon_file exporters or a Collector file exporter")
    args, rest = parser.parse_known_args(argv)
    if args.command == "doctor":
        logging.basicConfig(format="WARNING: %(message)s", level=logging.WARNING)  # our own command, not an app
        sys.exit(1 if doctor() else 0)
    if args.command == "view":
        if rest:
            parser.error(f"unrecognized arguments: {' '.join(rest)}")
        sys.exit(view_file(args.file))
    bootstrap(rest)


def view_file(path: str) -> int:
    """Print the telemetry in the file at `path`; notes about skipped lines go to stderr. 1 if it cannot be read."""
    from .viewer import view

    try:
        view(path, note=lambda text: print(text, file=sys.stderr))
    except OSError as error:
        print(f"cannot read {path}: {error.strerror or error}", file=sys.stderr)
        return 1
    return 0
