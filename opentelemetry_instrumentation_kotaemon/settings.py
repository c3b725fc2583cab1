"""Settings read from environment variables, validated once, with a warning and a safe default for bad values.

Standard OpenTelemetry variables come first; our own live in the ``OTEL_KOTAEMON_`` namespace. This module imports
nothing else of the package: the core, the integrations, the SDK side and the command line all read it.
"""

from __future__ import annotations

import enum
import json
import logging
import os
import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from importlib import metadata

logger = logging.getLogger(__name__)

ENTRY_POINT_NAME = "kotaemon"
"""The name of our distro, configurator and instrumentor entry points."""

# Standard variable (shared with the official GenAI instrumentations). Kept out of the names that
# `opentelemetry-instrument` turns into flags, because another package may already declare it.
CAPTURE_MESSAGE_CONTENT = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"

# Standard variable: which semantic-convention names to emit, a comma list shared by every instrumentation. We read
# only our GenAI values (see `GenAiConventions`); kept out of the flags for the same reason.
SEMCONV_STABILITY_OPT_IN = "OTEL_SEMCONV_STABILITY_OPT_IN"
GEN_AI_LATEST = "gen_ai_latest_experimental"
"""The newest merged GenAI conventions: what we emit anyway (the official GenAI instrumentations no longer read it)."""
GEN_AI_NEXT = "gen_ai_next_experimental"
"""Ours: the metric names of the GenAI convention changes still open (semantic-conventions-genai #521, #374, #571)
instead of the merged ones they will replace."""
GEN_AI_NEXT_DUP = GEN_AI_NEXT + "/dup"
"""Ours: the merged names and those of the open changes, both (for moving dashboards and alerts over)."""

# Our own variables. Every name starting with OTEL_ here becomes an `opentelemetry-instrument` flag.
OTEL_KOTAEMON_REDACT = "OTEL_KOTAEMON_REDACT"
"""Comma list of built-in redaction rules applied to captured content, or `none`. Default: all of them."""
REDACTION_RULES = ("credentials", "bearer", "api_key", "email", "card", "phone")
"""The built-in redaction rules (`core.redaction` has their patterns), in the order they are applied."""
OTEL_KOTAEMON_REDACT_PATTERNS = "OTEL_KOTAEMON_REDACT_PATTERNS"
"""JSON list of extra regular expressions whose matches are redacted from captured content."""
OTEL_KOTAEMON_CONTENT_MAX_LENGTH = "OTEL_KOTAEMON_CONTENT_MAX_LENGTH"
"""Longest captured content value, in characters, before it is cut. Default 8192."""
OTEL_KOTAEMON_OPENAI_STREAM_USAGE = "OTEL_KOTAEMON_OPENAI_STREAM_USAGE"
"""Ask OpenAI for usage on streamed chat calls that did not ask for it (true/false). Default true."""
OTEL_KOTAEMON_INSTRUMENT = "OTEL_KOTAEMON_INSTRUMENT"
"""Comma list of the libraries to instrument (openai, kotaemon, langchain, gradio, mcp). Default: all installed."""
OTEL_KOTAEMON_BAGGAGE_KEYS = "OTEL_KOTAEMON_BAGGAGE_KEYS"
"""Comma list of W3C baggage entries copied onto every span we create (besides any `kotaemon.*` entry)."""
OTEL_KOTAEMON_HASH_USER_ID = "OTEL_KOTAEMON_HASH_USER_ID"
"""Export `user.id` from baggage as a SHA-256 prefix instead of the value (true/false). Default true."""
OTEL_KOTAEMON_ALWAYS_SAMPLE = "OTEL_KOTAEMON_ALWAYS_SAMPLE"
"""Comma list of root span name patterns (shell-style, e.g. `login*,*payment*`) that our samplers always keep."""
OTEL_KOTAEMON_TRACE_ALL_STEPS = "OTEL_KOTAEMON_TRACE_ALL_STEPS"
"""Trace every Kotaemon (theflow) step, not only models, retrieval, re-ranking, tools, agents, indexing and
top-level pipelines (true/false). Default false."""
OTEL_KOTAEMON_FILE_PATH = "OTEL_KOTAEMON_FILE_PATH"
"""The file the `kotaemon_file` exporters append OTLP JSON lines to. Default `kotaemon-telemetry.jsonl`."""
OTEL_KOTAEMON_IDS_ON_EVERY_SPAN = "OTEL_KOTAEMON_IDS_ON_EVERY_SPAN"
"""Put the conversation, session and user ids (and the copied baggage entries) on every span of ours in a turn, not
only on the spans that learn them: the app event, the step naming them, a span with none of ours above it
(true/false). Default true."""
OTEL_KOTAEMON_LANGCHAIN_ALL_RUNNABLES = "OTEL_KOTAEMON_LANGCHAIN_ALL_RUNNABLES"
"""Trace every LangChain runnable (lambdas, parsers, prompt templates, nested sequences), not only chains at the
top, models, retrievers, tools, agents and fallback/retry wrappers (true/false). Default false."""

ALL_VARIABLES = (
    CAPTURE_MESSAGE_CONTENT,
    SEMCONV_STABILITY_OPT_IN,
    OTEL_KOTAEMON_LANGCHAIN_ALL_RUNNABLES,
    OTEL_KOTAEMON_REDACT,
    OTEL_KOTAEMON_REDACT_PATTERNS,
    OTEL_KOTAEMON_CONTENT_MAX_LENGTH,
    OTEL_KOTAEMON_OPENAI_STREAM_USAGE,
    OTEL_KOTAEMON_INSTRUMENT,
    OTEL_KOTAEMON_BAGGAGE_KEYS,
    OTEL_KOTAEMON_HASH_USER_ID,
    OTEL_KOTAEMON_IDS_ON_EVERY_SPAN,
    OTEL_KOTAEMON_ALWAYS_SAMPLE,
    OTEL_KOTAEMON_TRACE_ALL_STEPS,
    OTEL_KOTAEMON_FILE_PATH,
)
DEFAULT_BAGGAGE_KEYS = ("gen_ai.conversation.id", "session.id", "user.id")

KNOWN_LIBRARIES = ("openai", "kotaemon", "langchain", "gradio", "mcp")
DEFAULT_CONTENT_MAX_LENGTH = 8192
DEFAULT_FILE_PATH = "kotaemon-telemetry.jsonl"


class ContentMode(enum.Enum):
    """Where captured prompts and completions go."""

    NONE = "no_content"
    SPAN = "span_only"
    EVENT = "event_only"
    SPAN_AND_EVENT = "span_and_event"

    @property
    def on_span(self) -> bool:
        return self in (ContentMode.SPAN, ContentMode.SPAN_AND_EVENT)

    @property
    def as_event(self) -> bool:
        return self in (ContentMode.EVENT, ContentMode.SPAN_AND_EVENT)


class GenAiConventions(enum.Enum):
    """Which GenAI metric names to emit, from `OTEL_SEMCONV_STABILITY_OPT_IN`."""

    LATEST = GEN_AI_LATEST
    NEXT = GEN_AI_NEXT
    BOTH = GEN_AI_NEXT_DUP

    @property
    def latest(self) -> bool:
        """Whether the merged conventions' names are emitted."""
        return self is not GenAiConventions.NEXT

    @property
    def next(self) -> bool:
        """Whether the names of the open convention changes are emitted."""
        return self is not GenAiConventions.LATEST


TRUE_VALUES = frozenset({"true", "1", "yes", "on"})
"""What a boolean variable (or header, or baggage entry) reads as true, in any case."""
FALSE_VALUES = frozenset({"false", "0", "no", "off"})

_CONTENT_ALIASES = {
    **dict.fromkeys(TRUE_VALUES, ContentMode.SPAN),
    **dict.fromkeys(FALSE_VALUES, ContentMode.NONE),
    **{mode.value: mode for mode in ContentMode},
}

_warned: set[tuple[str, str]] = set()


def warn_invalid(name: str, value: str, fallback: str, expected: str) -> None:
    """Log one warning per variable and value naming what was wrong and what we use instead."""
    if (name, value) in _warned:
        return
    _warned.add((name, value))
    logger.warning("%s=%r is not valid (expected %s); using %s instead", name, value, expected, fallback)


def _read(env: Mapping[str, str], name: str) -> str | None:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return None
    return raw.strip()


def read_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    """A boolean variable: true/false, 1/0, yes/no, on/off (any case)."""
    raw = _read(env, name)
    if raw is None:
        return default
    value = raw.lower()
    if value in TRUE_VALUES:
        return True
    if value in FALSE_VALUES:
        return False
    warn_invalid(name, raw, str(default).lower(), "true or false")
    return default


def read_int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    """A whole-number variable no smaller than `minimum`."""
    raw = _read(env, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        warn_invalid(name, raw, str(default), f"a whole number >= {minimum}")
        return default
    return value


def read_content_mode(env: Mapping[str, str]) -> ContentMode:
    """The content capture mode from the standard GenAI variable (off unless asked for)."""
    raw = _read(env, CAPTURE_MESSAGE_CONTENT)
    if raw is None:
        return ContentMode.NONE
    mode = _CONTENT_ALIASES.get(raw.lower())
    if mode is None:
        expected = "true, false, " + ", ".join(m.value for m in ContentMode)
        warn_invalid(CAPTURE_MESSAGE_CONTENT, raw, ContentMode.NONE.value, expected)
        return ContentMode.NONE
    return mode


def read_gen_ai_conventions(env: Mapping[str, str]) -> GenAiConventions:
    """Our GenAI values of the standard opt-in list (`/dup` wins); other values belong to other instrumentations."""
    raw = _read(env, SEMCONV_STABILITY_OPT_IN)
    if raw is None:
        return GenAiConventions.LATEST
    values = {part.strip().lower() for part in raw.split(",")}
    for conventions in (GenAiConventions.BOTH, GenAiConventions.NEXT):
        if conventions.value in values:
            return conventions
    if any(v.startswith("gen_ai") and v != GEN_AI_LATEST for v in values):
        expected = f"{GEN_AI_LATEST}, {GEN_AI_NEXT} or {GEN_AI_NEXT_DUP} for GenAI"
        warn_invalid(SEMCONV_STABILITY_OPT_IN, raw, GEN_AI_LATEST, expected)
    return GenAiConventions.LATEST


def read_name_list(
    env: Mapping[str, str], name: str, known: tuple[str, ...], default: tuple[str, ...]
) -> tuple[str, ...]:
    """A comma list of names drawn from `known`; `none` means the empty list. Unknown names are dropped."""
    raw = _read(env, name)
    if raw is None:
        return default
    if raw.lower() == "none":
        return ()
    names = tuple(part.strip().lower() for part in raw.split(",") if part.strip())
    unknown = [n for n in names if n not in known]
    if unknown:
        kept = tuple(n for n in names if n in known)
        warn_invalid(name, raw, ",".join(kept) or "none", "a comma list of " + ", ".join(known) + " or none")
        return kept
    return names


def read_list(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """A free comma list; `none` means the empty list."""
    raw = _read(env, name)
    if raw is None:
        return default
    if raw.lower() == "none":
        return ()
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def read_patterns(env: Mapping[str, str], name: str) -> tuple[re.Pattern[str], ...]:
    """A JSON list of regular expressions; entries that are not valid expressions are skipped."""
    raw = _read(env, name)
    if raw is None:
        return ()
    try:
        items = json.loads(raw)
    except ValueError:
        items = None
    if not isinstance(items, list):
        warn_invalid(name, raw, "no extra patterns", 'a JSON list of regular expressions, e.g. ["ACME-[0-9]+"]')
        return ()
    patterns = []
    for item in items:
        try:
            patterns.append(re.compile(str(item)))
        except re.error:
            warn_invalid(name, str(item), "the other patterns", "valid regular expressions")
    return tuple(patterns)


def read_file_path(env: Mapping[str, str] | None = None) -> str:
    """The absolute path of the `kotaemon_file` exporters' file; a directory or a name with a NUL falls back to the
    default (in the working directory)."""
    env = os.environ if env is None else env
    raw = _read(env, OTEL_KOTAEMON_FILE_PATH)
    if raw is not None and ("\0" in raw or os.path.isdir(raw)):
        warn_invalid(OTEL_KOTAEMON_FILE_PATH, raw, DEFAULT_FILE_PATH, "the path of a file, not of a directory")
        raw = None
    return os.path.abspath(raw or DEFAULT_FILE_PATH)


@dataclass(frozen=True)
class Settings:
    """The effective configuration of the instrumentation: each field is named after its variable."""

    content_mode: ContentMode = ContentMode.NONE
    redact: tuple[str, ...] = REDACTION_RULES
    redact_patterns: tuple[re.Pattern[str], ...] = ()
    content_max_length: int = DEFAULT_CONTENT_MAX_LENGTH
    openai_stream_usage: bool = True
    instrument: tuple[str, ...] = KNOWN_LIBRARIES
    trace_all_steps: bool = False
    baggage_keys: tuple[str, ...] = DEFAULT_BAGGAGE_KEYS
    hash_user_id: bool = True
    langchain_all_runnables: bool = False
    gen_ai_conventions: GenAiConventions = GenAiConventions.LATEST
    ids_on_every_span: bool = True

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read every variable once; bad values log a warning and fall back to their default."""
        env = os.environ if env is None else env
        return cls(
            content_mode=read_content_mode(env),
            redact=read_name_list(env, OTEL_KOTAEMON_REDACT, REDACTION_RULES, REDACTION_RULES),
            redact_patterns=read_patterns(env, OTEL_KOTAEMON_REDACT_PATTERNS),
            content_max_length=read_int(env, OTEL_KOTAEMON_CONTENT_MAX_LENGTH, DEFAULT_CONTENT_MAX_LENGTH, 16),
            openai_stream_usage=read_bool(env, OTEL_KOTAEMON_OPENAI_STREAM_USAGE, True),
            instrument=read_name_list(env, OTEL_KOTAEMON_INSTRUMENT, KNOWN_LIBRARIES, KNOWN_LIBRARIES),
            trace_all_steps=read_bool(env, OTEL_KOTAEMON_TRACE_ALL_STEPS, False),
            baggage_keys=read_list(env, OTEL_KOTAEMON_BAGGAGE_KEYS, DEFAULT_BAGGAGE_KEYS),
            hash_user_id=read_bool(env, OTEL_KOTAEMON_HASH_USER_ID, True),
            langchain_all_runnables=read_bool(env, OTEL_KOTAEMON_LANGCHAIN_ALL_RUNNABLES, False),
            gen_ai_conventions=read_gen_ai_conventions(env),
            ids_on_every_span=read_bool(env, OTEL_KOTAEMON_IDS_ON_EVERY_SPAN, True),
        )


# --- Standard variables, checked before the SDK reads them
# The SDK aborts all of auto-instrumentation on some malformed values (an unknown protocol or exporter, a timeout
# that is not a number); each is replaced by a safe value here, with one warning naming it.

_SIGNALS = ("TRACES", "METRICS", "LOGS")
_PROTOCOLS = ("grpc", "http/protobuf")


def default_protocol() -> str:
    """The OTLP protocol when the user sets none: http/protobuf when its exporter is installed (the extra `http`),
    else gRPC, whose exporter is a dependency (Kotaemon's environment has it, so installing adds no new release)."""
    import importlib.util

    try:
        found = importlib.util.find_spec("opentelemetry.exporter.otlp.proto.http") is not None
    except (ImportError, ValueError):
        found = False
    return "http/protobuf" if found else "grpc"


_PROTOCOL_VARIABLES = ("OTEL_EXPORTER_OTLP_PROTOCOL", *(f"OTEL_EXPORTER_OTLP_{s}_PROTOCOL" for s in _SIGNALS))
_HEADER_VARIABLES = ("OTEL_EXPORTER_OTLP_HEADERS", *(f"OTEL_EXPORTER_OTLP_{s}_HEADERS" for s in _SIGNALS))
_EXPORTER_GROUPS = {f"OTEL_{s}_EXPORTER": f"opentelemetry_{s.lower()}_exporter" for s in _SIGNALS}
_NUMBER_VARIABLES = (
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    *(f"OTEL_EXPORTER_OTLP_{s}_TIMEOUT" for s in _SIGNALS),
    "OTEL_BSP_SCHEDULE_DELAY",
    "OTEL_BSP_EXPORT_TIMEOUT",
    "OTEL_BSP_MAX_QUEUE_SIZE",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    "OTEL_BLRP_SCHEDULE_DELAY",
    "OTEL_BLRP_EXPORT_TIMEOUT",
    "OTEL_BLRP_MAX_QUEUE_SIZE",
    "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE",
    "OTEL_METRIC_EXPORT_INTERVAL",
    "OTEL_METRIC_EXPORT_TIMEOUT",
    "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    "OTEL_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
)


def _valid_header(item: str) -> bool:
    key, sep, value = item.partition("=")
    return bool(sep) and bool(key.strip()) and bool(value.strip())


def sanitize_standard_variables(environ: MutableMapping[str, str]) -> None:
    """Replace malformed standard OTEL_* values in `environ` by safe ones, warning once for each."""
    for name in _PROTOCOL_VARIABLES:
        raw = _read(environ, name)
        if raw is not None and raw.lower() not in _PROTOCOLS:
            fallback = default_protocol()
            warn_invalid(name, raw, fallback, "grpc or http/protobuf (http/json is not supported by the SDK)")
            environ[name] = fallback
        elif raw is not None and raw.lower() == "http/protobuf" and default_protocol() == "grpc":
            warn_invalid(name, raw, "grpc", "grpc: the http/protobuf exporter is not installed (the extra `http`)")
            environ[name] = "grpc"
    for name in _NUMBER_VARIABLES:
        raw = _read(environ, name)
        if raw is None:
            continue
        try:
            valid = float(raw) >= 0
        except ValueError:
            valid = False
        if not valid:
            warn_invalid(name, raw, "the SDK default", "a number >= 0")
            del environ[name]
    for name in _HEADER_VARIABLES:
        raw = _read(environ, name)
        if raw is None:
            continue
        items = [item.strip() for item in raw.split(",") if item.strip()]
        kept = [item for item in items if _valid_header(item)]
        if len(kept) != len(items):
            warn_invalid(name, raw, "only the well-formed headers", "a comma list of key=value pairs")
            environ[name] = ",".join(kept)
    for name, group in _EXPORTER_GROUPS.items():
        raw = _read(environ, name)
        if raw is None:
            continue
        known = {ep.name for ep in metadata.entry_points(group=group)} | {"none"}
        if known & {"otlp_proto_grpc", "otlp_proto_http"}:
            known.add("otlp")  # the SDK picks one of these by OTEL_EXPORTER_OTLP_PROTOCOL
        names = [part.strip() for part in raw.split(",") if part.strip()]
        kept = [n for n in names if n in known]
        if len(kept) != len(names):
            fallback = ",".join(kept) or "otlp"
            warn_invalid(name, raw, fallback, "installed exporters: " + ", ".join(sorted(known)))
            environ[name] = fallback
