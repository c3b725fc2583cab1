"""`opentelemetry-kotaemon doctor`: what `opentelemetry-instrument` will do in this environment.

The effective settings, which libraries are found and instrumented, which distro and configurator win, duplicate
instrumentations installed beside us, version skew, and which of the places we hook in Kotaemon's web app (ktem) the
installed one has.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from importlib import metadata

from ..kotaemon.ktem_hooks import installed_hook_points
from ..sdk.distro import DEFAULTS
from ..settings import ALL_VARIABLES, ENTRY_POINT_NAME, Settings
from ..version import DISTRIBUTION, __version__
from ..versions import SUPPORTED_LIBRARIES, in_range

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
_OTEL_PACKAGES = (
    "opentelemetry-api",
    "opentelemetry-sdk",
    "opentelemetry-instrumentation",
    "opentelemetry-exporter-otlp-proto-grpc",
    "opentelemetry-exporter-otlp-proto-http",
)


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


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
    enabled = Settings.from_env().instrument
    for library in SUPPORTED_LIBRARIES:
        name, integration = library.distribution, library.integration
        version = _version(name)
        if version is None:
            out(f"  {name:<18} not installed")
            continue
        state = "instrumented" if integration in enabled else f"not instrumented ({integration} is switched off)"
        if not in_range(version, library.versions):
            state += f"; outside the tested range {library.versions}"
            problems += 1
        out(f"  {name:<18} {version:<10} {state}")

    problems += ktem_report(out)

    out("\nOpenTelemetry")
    versions = {name: _version(name) for name in _OTEL_PACKAGES}
    out("  " + ", ".join(f"{name} {version or 'not installed'}" for name, version in versions.items()))
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

    problems += sampling_report(out)

    out("\nSettings (- means not set: the default applies; a malformed value is warned about above)")
    for variable in ALL_VARIABLES:
        out(f"  {variable:<52} {os.environ.get(variable, '-')}")
    for variable, value in DEFAULTS.items():
        if variable not in os.environ:
            out(f"  {variable:<52} {value} (our default)")
    out(f"\n{problems} problem(s) found")
    return problems


def ktem_report(out: Callable[[str], None]) -> int:
    """When ktem is installed, which of its hook points it has (a missing one is a problem: that part of the web app
    goes untraced, or its evaluations are lost). Prints nothing without ktem."""
    found = installed_hook_points()
    if found is None:
        return 0
    out("\nKotaemon web app (ktem) hook points")
    for hook, present in found:
        out(f"  {'found  ' if present else 'MISSING'} {hook.name}: {hook.use}")
    return sum(1 for _, present in found if not present)


def sampling_report(out: Callable[[str], None]) -> int:
    """The sampler chosen; for `jaeger_remote`, the strategy its endpoint serves now. Returns the problems found."""
    name = os.environ.get("OTEL_TRACES_SAMPLER", "").strip() or "parentbased_always_on (SDK default)"
    out("\nSampling")
    out(f"  OTEL_TRACES_SAMPLER={name}   OTEL_TRACES_SAMPLER_ARG={os.environ.get('OTEL_TRACES_SAMPLER_ARG', '-')}")
    if name != "jaeger_remote":
        return 0
    from ..sdk.jaeger_remote import JaegerRemoteSampler, parse_sampler_argument, service_name

    sampler = JaegerRemoteSampler(
        parse_sampler_argument(os.environ.get("OTEL_TRACES_SAMPLER_ARG")), service_name(), start=False
    )
    out(f"  strategies from {sampler.url}, every {sampler.config.polling_interval_ms} ms")
    sampler.refresh()
    status = sampler.status()
    if status.refreshed_at is None:
        out(f"  endpoint not answering ({status.problem}): the app samples at the initial rate, {status.strategy},")
        out("    until it answers")
        return 1
    refreshed = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(status.refreshed_at))
    out(f"  current strategy: {status.strategy} (refreshed {refreshed})")
    return 0
