"""`opentelemetry-kotaemon doctor`: what `opentelemetry-instrument` will do in this environment.

The effective settings, which libraries are found and instrumented, which distro and configurator win, duplicate
instrumentations installed beside us, version skew, how processes are told apart, what the sampler does for a fleet
of them (for `jaeger_remote`, the strategy its endpoint serves now), and which of the places we hook in Kotaemon's web
app (ktem) the installed one has.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from importlib import metadata

from packaging.version import InvalidVersion, Version

from ..kotaemon.ktem_hooks import installed_hook_points
from ..settings import DISTRO_DEFAULTS, ENTRY_POINT_NAME, SETTINGS, Settings
from ..version import DISTRIBUTION, __version__
from ..versions import SUPPORTED_LIBRARIES, in_range

DISABLED_INSTRUMENTATIONS = "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"

# Other packages that trace the same calls; installed beside us, each call is traced twice.
DUPLICATES = {
    "opentelemetry-instrumentation-openai": "OpenLLMetry's OpenAI instrumentation",
    "opentelemetry-instrumentation-openai-v2": "the (deprecated) official OpenAI instrumentation",
    "opentelemetry-instrumentation-genai-openai": "the official GenAI OpenAI instrumentation",
    "opentelemetry-instrumentation-langchain": "OpenLLMetry's LangChain instrumentation",
    "opentelemetry-instrumentation-genai-langchain": "the official GenAI LangChain instrumentation",
    "openinference-instrumentation-openai": "OpenInference's OpenAI instrumentation",
    "openinference-instrumentation-langchain": "OpenInference's LangChain instrumentation",
    "opentelemetry-instrumentation-mcp": "OpenLLMetry's MCP instrumentation",
    "openinference-instrumentation-mcp": "OpenInference's MCP instrumentation (trace context in `_meta`)",
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


def _disabled() -> set[str]:
    """The instrumentor entry points `opentelemetry-instrument` skips."""
    return {name.strip() for name in os.environ.get(DISABLED_INSTRUMENTATIONS, "").split(",")}


def switched_off() -> str | None:
    """Why `opentelemetry-instrument` will not load our instrumentor at all, or None when it will."""
    disabled = _disabled()
    if ENTRY_POINT_NAME in disabled:
        return f"{DISABLED_INSTRUMENTATIONS} has {ENTRY_POINT_NAME}"
    if "*" in disabled:  # skips every instrumentor from opentelemetry-instrumentation 0.60b0
        try:
            skips_all = Version(_version("opentelemetry-instrumentation") or "0") >= Version("0.60b0")
        except InvalidVersion:
            skips_all = False
        if skips_all:
            return f"{DISABLED_INSTRUMENTATIONS}=*"
    return None


def doctor(out: Callable[[str], None] = print) -> int:
    """Print the report; returns the number of problems found."""
    problems = 0
    out(f"{DISTRIBUTION} {__version__} on Python {sys.version.split()[0]}")

    out("\nLibraries")
    enabled = Settings.from_env().instrument
    off = switched_off()
    if off is not None:
        out(f"  none instrumented: {off}, so opentelemetry-instrument does not load this package")
    for library in SUPPORTED_LIBRARIES:
        name, integration = library.distribution, library.integration
        version = _version(name)
        if version is None:
            out(f"  {name:<18} not installed")
            continue
        if off is not None:
            state = "not instrumented"
        elif integration in enabled:
            state = "instrumented"
        else:
            state = f"not instrumented ({integration} is switched off)"
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
        chosen = os.environ.get(variable) or DISTRO_DEFAULTS.get(variable, ENTRY_POINT_NAME)
        out(f"  {variable}={chosen}   installed: {', '.join(names) or 'none'}")

    out("\nDuplicate instrumentations")
    found = False
    for ep in _entry_points("opentelemetry_instrumentor"):
        owner = _owner(ep)
        if owner in DUPLICATES:
            found = True
            if ep.name in _disabled():
                out(f"  {owner} ({DUPLICATES[owner]}) registers '{ep.name}', skipped ({DISABLED_INSTRUMENTATIONS})")
                continue
            problems += 1
            out(f"  {owner} ({DUPLICATES[owner]}) registers '{ep.name}': calls would be traced twice;")
            out(f"    disable it with OTEL_PYTHON_DISABLED_INSTRUMENTATIONS={ep.name} or uninstall it")
    for distribution, description in DUPLICATES.items():
        if description.endswith("(started from code)") and _version(distribution):
            found = True
            out(f"  {distribution} is installed ({description}): do not start it beside us")
    if not found:
        out("  none")

    identity_report(out)
    problems += sampling_report(out)

    out("\nSettings (- means not set: the default applies; a malformed value is warned about above)")
    for row in SETTINGS:
        value = os.environ.get(row.variable, "-")
        out(f"  {row.variable:<52} {'(set, not shown)' if row.sensitive and value != '-' else value}")
    for variable, value in DISTRO_DEFAULTS.items():
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


REMOTE_SAMPLERS = ("jaeger_remote", "parentbased_jaeger_remote")


def sampling_report(out: Callable[[str], None]) -> int:
    """The sampler chosen and what it means for a fleet of processes; for `jaeger_remote`, the strategy its endpoint
    serves now, fetched and read as every process of this service does. Returns the problems found."""
    from ..settings import DEBUG_TRACES_PER_SECOND

    name = os.environ.get("OTEL_TRACES_SAMPLER", "").strip() or "parentbased_always_on (SDK default)"
    arg = os.environ.get("OTEL_TRACES_SAMPLER_ARG", "-")
    out("\nSampling")
    out(f"  OTEL_TRACES_SAMPLER={name}   OTEL_TRACES_SAMPLER_ARG={arg}")
    if name in ("kotaemon_ratelimit", "kotaemon_ratio", *REMOTE_SAMPLERS):
        budget = DEBUG_TRACES_PER_SECOND.read(os.environ)
        out(f"  debug header / kotaemon.debug baggage: up to {budget:g} forced traces per second per process")
    if name == "kotaemon_ratelimit":
        out("  the limit holds per process: a fleet of N processes (replicas x workers) keeps up to N times as many;")
        out("    for one budget per operation across the fleet, see jaeger_remote with Jaeger's adaptive sampling")
    if name not in REMOTE_SAMPLERS:
        return 0
    from ..sdk.jaeger_remote import JaegerRemoteSampler, parse_sampler_argument, service_name

    sampler = JaegerRemoteSampler(
        parse_sampler_argument(os.environ.get("OTEL_TRACES_SAMPLER_ARG")), service_name(), start=False
    )
    out(f"  strategies from {sampler.url}, every {sampler.config.polling_interval_ms} ms")
    if sampler.service == "unknown_service":
        out("  (OTEL_SERVICE_NAME is not set: an app asks under its script's name; set it here to see that strategy)")
    sampler.refresh()
    status = sampler.status()
    if status.refreshed_at is None:
        out(f"  endpoint not answering ({status.problem}): the app samples at the initial rate, {status.strategy},")
        out("    until it answers")
        return 1
    refreshed = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(status.refreshed_at))
    out(f"  current strategy: {status.strategy} (refreshed {refreshed})")
    out("  every process of this service (each forked worker too) fetches it on its own and uses it within one")
    out("    polling interval; lower bounds and rate limits in it hold per process")
    return 0


def identity_report(out: Callable[[str], None]) -> None:
    """Whether each process exports as its own instance (`service.instance.id`)."""
    from opentelemetry.sdk.resources import OTELResourceDetector

    from ..attributes import SERVICE_INSTANCE_ID

    yours = OTELResourceDetector().detect().attributes.get(SERVICE_INSTANCE_ID)
    out("\nProcesses")
    if yours:
        out(f"  service.instance.id={yours} (OTEL_RESOURCE_ATTRIBUTES): every process started with it shares it,")
        out("    forked workers too; a backend merges their counters unless each gets its own")
    else:
        out("  service.instance.id: a new one in every process and forked worker (each its own metric series)")
