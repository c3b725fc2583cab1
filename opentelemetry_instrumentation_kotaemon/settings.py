"""Settings read from environment variables, validated once, with a warning and a safe value for bad ones.

One declarative table drives everything: `SETTINGS` holds a row per variable of ours (its parser, default, the value
a bad value gets, the safe-side rule and its documentation line), `STANDARD_SETTINGS` a row per standard variable we
read or give a default. `Settings.from_env`, the flags `opentelemetry-instrument` offers (`sdk.environment_variables`),
the distro's defaults, `opentelemetry-kotaemon doctor` and the settings tables of the README and
docs/configuration.md (`markdown_table`, checked by tests/unit/test_docs.py) all come from them.

Privacy settings fail closed: a value we cannot read gets the protective one, and the unsafe state (no redaction,
raw user ids, content capture) is reached only by an explicit, documented value. A warning never shows the value of
a variable that may hold a secret (`Setting.sensitive`, headers).

Standard variables come first; our own live in the ``OTEL_KOTAEMON_`` namespace. This module imports nothing else of
the package: the core, the integrations, the SDK side and the command line all read it.
"""

from __future__ import annotations

import enum
import json
import logging
import os
import re
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Generic, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")

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

# Our own variables (their rows, below, say what each means).
OTEL_KOTAEMON_REDACT = "OTEL_KOTAEMON_REDACT"
OTEL_KOTAEMON_REDACT_PATTERNS = "OTEL_KOTAEMON_REDACT_PATTERNS"
OTEL_KOTAEMON_CONTENT_MAX_LENGTH = "OTEL_KOTAEMON_CONTENT_MAX_LENGTH"
OTEL_KOTAEMON_OPENAI_STREAM_USAGE = "OTEL_KOTAEMON_OPENAI_STREAM_USAGE"
OTEL_KOTAEMON_INSTRUMENT = "OTEL_KOTAEMON_INSTRUMENT"
OTEL_KOTAEMON_TRACE_ALL_STEPS = "OTEL_KOTAEMON_TRACE_ALL_STEPS"
OTEL_KOTAEMON_LANGCHAIN_ALL_RUNNABLES = "OTEL_KOTAEMON_LANGCHAIN_ALL_RUNNABLES"
OTEL_KOTAEMON_BAGGAGE_KEYS = "OTEL_KOTAEMON_BAGGAGE_KEYS"
OTEL_KOTAEMON_HASH_USER_ID = "OTEL_KOTAEMON_HASH_USER_ID"
OTEL_KOTAEMON_IDS_ON_EVERY_SPAN = "OTEL_KOTAEMON_IDS_ON_EVERY_SPAN"
OTEL_KOTAEMON_USER_ID_HASH_KEY = "OTEL_KOTAEMON_USER_ID_HASH_KEY"
OTEL_KOTAEMON_ALWAYS_SAMPLE = "OTEL_KOTAEMON_ALWAYS_SAMPLE"
OTEL_KOTAEMON_DEBUG_TRACES_PER_SECOND = "OTEL_KOTAEMON_DEBUG_TRACES_PER_SECOND"
OTEL_KOTAEMON_FILE_PATH = "OTEL_KOTAEMON_FILE_PATH"
OTEL_KOTAEMON_EXPORT_RETRY_MAX_BYTES = "OTEL_KOTAEMON_EXPORT_RETRY_MAX_BYTES"
OTEL_KOTAEMON_EXPORT_RETRY_MAX_AGE = "OTEL_KOTAEMON_EXPORT_RETRY_MAX_AGE"
OTEL_KOTAEMON_SPOOL_DIR = "OTEL_KOTAEMON_SPOOL_DIR"
OTEL_KOTAEMON_SPOOL_MAX_BYTES = "OTEL_KOTAEMON_SPOOL_MAX_BYTES"
OTEL_KOTAEMON_SPOOL_MAX_AGE = "OTEL_KOTAEMON_SPOOL_MAX_AGE"
OTEL_KOTAEMON_ASGI_MESSAGE_SPANS = "OTEL_KOTAEMON_ASGI_MESSAGE_SPANS"

REDACTION_RULES: tuple[str, ...] = ("credentials", "bearer", "api_key", "email", "card", "phone")
"""The built-in redaction rules (`core.redaction` has their patterns), in the order they are applied."""
ALL_RULES_ALIASES = frozenset({"all", "default", "true"})
"""`OTEL_KOTAEMON_REDACT` values that mean every built-in rule."""
WITHHOLD_EVERYTHING = re.compile(r"(?s).+")
"""The extra redaction pattern a malformed `OTEL_KOTAEMON_REDACT_PATTERNS` gets: every cleaned text, whole."""
DEFAULT_BAGGAGE_KEYS: tuple[str, ...] = ("gen_ai.conversation.id", "session.id", "user.id")
KNOWN_LIBRARIES: tuple[str, ...] = ("openai", "kotaemon", "langchain", "gradio", "mcp")
DEFAULT_CONTENT_MAX_LENGTH = 8192
MIN_CONTENT_MAX_LENGTH = 16
DEFAULT_FILE_PATH = "kotaemon-telemetry.jsonl"
DEFAULT_DEBUG_TRACES_PER_SECOND = 5.0
DEFAULT_EXPORT_RETRY_MAX_BYTES = 32 * 1024 * 1024
"""Per signal: a 2-minute outage at 20 traces/s holds about 6 MB of spans (docs/operations.md has the figures)."""
DEFAULT_EXPORT_RETRY_MAX_AGE = 900.0
ATTRIBUTE_LENGTH_LIMIT = "16384"
"""The distro's default longest attribute value (the SDK has no limit): room for prompts, no megabyte payloads."""
MIN_USER_ID_HASH_KEY_BYTES = 32
MIB = 1024 * 1024
DEFAULT_SPOOL_MAX_BYTES = 256 * MIB
MIN_SPOOL_MAX_BYTES = MIB
DEFAULT_SPOOL_MAX_AGE = 86400.0
"""A day: a spool outlives restarts, crash loops and a night's outage (the memory bound is minutes)."""
"""The key length HMAC-SHA256 needs for its full strength (RFC 2104: at least the hash's output length)."""


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


class StreamUsage(enum.Enum):
    """Which streamed chat calls we ask for their usage (`OTEL_KOTAEMON_OPENAI_STREAM_USAGE`)."""

    AUTO = "auto"
    """Where the endpoint is known to accept `stream_options`: api.openai.com, Azure API versions from 2024-09-01."""
    ALWAYS = "always"
    """Everywhere; an endpoint that refuses it gets the call again without it, and is not asked again."""
    NEVER = "never"


_STREAM_USAGE_ALIASES = {
    **dict.fromkeys(TRUE_VALUES, StreamUsage.ALWAYS),
    **dict.fromkeys(FALSE_VALUES, StreamUsage.NEVER),
    **{mode.value: mode for mode in StreamUsage},
}

_warned: set[tuple[str, str | None]] = set()
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^\s/@]+@")


def without_userinfo(text: str) -> str:
    """`text` with the `user:password@` of every URL in it replaced: what our messages may show of a URL."""
    return _URL_USERINFO.sub(r"\1[REDACTED]@", text)


def warn_invalid(name: str, value: str | None, fallback: str, expected: str, note: str = "") -> None:
    """Log one warning per variable and value naming what was wrong and what we use instead. `value` is None for a
    variable that may hold a secret: the warning then names the variable only; credentials in a URL are never
    shown."""
    if (name, value) in _warned:
        return
    _warned.add((name, value))
    shown = name if value is None else f"{name}={without_userinfo(value)!r}"
    logger.warning("%s is not valid (expected %s); using %s instead%s", shown, expected, fallback, note)


def _read(env: Mapping[str, str], name: str) -> str | None:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return None
    return raw.strip()


# --- the table of our settings


class BadValue(ValueError):
    """Raised by a parser: what it expected and, when something closer than the row's fallback is known (the valid
    part of a list), the value to use and how the warning names it."""

    def __init__(self, expected: str, use: Any = None, shown: str | None = None) -> None:
        super().__init__(expected)
        self.expected = expected
        self.use = use
        self.shown = shown


@dataclass(frozen=True)
class Setting(Generic[T]):
    """One row of the settings table: a variable, how it is read and what it documents."""

    variable: str
    parse: Callable[[str], T]
    """Reads a set, non-blank value (stripped); raises `BadValue`."""
    default: T
    """When the variable is unset or blank."""
    fallback: T
    """When the value is bad (unless the parser names something closer): the protective value for privacy."""
    doc: str
    """One line: what the variable does (the README's and the configuration page's "Meaning")."""
    default_doc: str
    fallback_doc: str
    """How docs and warnings name the fallback."""
    example: str
    safe_side: str = ""
    """For privacy settings: which value alone reaches the unsafe state, or why the fallback is the safe one."""
    field: str = ""
    """The `Settings` field it fills; empty for a setting its one reader reads itself (samplers, file exporter)."""
    sensitive: bool = False
    """May hold a secret: its value is never shown in a warning or by `doctor`."""
    flag: bool = True
    """Offered as an `opentelemetry-instrument` flag (not a standard variable, which another package may declare
    too, nor a key, which a command line would show in the process list)."""
    front_page: bool = True
    """Shown in the README too (the rest only in docs/configuration.md)."""

    def read(self, env: Mapping[str, str]) -> T:
        """The value from `env`; a bad one logs one warning and gets the fallback."""
        raw = _read(env, self.variable)
        if raw is None:
            return self.default
        try:
            return self.parse(raw)
        except BadValue as bad:
            note = f" ({self.safe_side})" if self.safe_side else ""
            value = None if self.sensitive else raw
            warn_invalid(self.variable, value, bad.shown or self.fallback_doc, bad.expected, note)
            return self.fallback if bad.shown is None else bad.use


def _parse_content_mode(raw: str) -> ContentMode:
    mode = _CONTENT_ALIASES.get(raw.lower())
    if mode is None:
        raise BadValue("true, false, " + ", ".join(m.value for m in ContentMode))
    return mode


def _parse_stream_usage(raw: str) -> StreamUsage:
    mode = _STREAM_USAGE_ALIASES.get(raw.lower())
    if mode is None:
        raise BadValue("auto, always or never (true and false read as always and never)")
    return mode


def _parse_gen_ai_conventions(raw: str) -> GenAiConventions:
    """Our GenAI values of the standard opt-in list (`/dup` wins); other values belong to other instrumentations."""
    values = {part.strip().lower() for part in raw.split(",")}
    for conventions in (GenAiConventions.BOTH, GenAiConventions.NEXT):
        if conventions.value in values:
            return conventions
    if any(v.startswith("gen_ai") and v != GEN_AI_LATEST for v in values):
        raise BadValue(f"{GEN_AI_LATEST}, {GEN_AI_NEXT} or {GEN_AI_NEXT_DUP} for GenAI")
    return GenAiConventions.LATEST


def _parse_bool(raw: str) -> bool:
    value = raw.lower()
    if value in TRUE_VALUES:
        return True
    if value in FALSE_VALUES:
        return False
    raise BadValue("true or false")


def _names(raw: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))


def _parse_rules(raw: str) -> tuple[str, ...]:
    value = raw.lower()
    if value == "none":
        return ()
    if value in ALL_RULES_ALIASES:
        return REDACTION_RULES
    names = _names(value)
    if not names or not set(names) <= set(REDACTION_RULES):
        raise BadValue("a comma list of " + ", ".join(REDACTION_RULES) + ", or all, or none")
    return names


def _parse_patterns(raw: str) -> tuple[re.Pattern[str], ...]:
    expected = 'a JSON list of regular expressions, e.g. ["ACME-[0-9]+"]'
    try:
        items = json.loads(raw)
    except ValueError:
        raise BadValue(expected + "; this is not JSON") from None
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise BadValue(expected + "; this is not a list of strings")
    patterns = []
    for number, item in enumerate(items, 1):
        try:
            patterns.append(re.compile(item))
        except re.error as error:  # its message gives the position, never the pattern
            raise BadValue(f"{expected}; entry {number}: {error}") from None
    return tuple(patterns)


def _parse_content_max_length(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise BadValue(f"a whole number >= {MIN_CONTENT_MAX_LENGTH}") from None
    if value < MIN_CONTENT_MAX_LENGTH:
        minimum = MIN_CONTENT_MAX_LENGTH
        raise BadValue(f"a whole number >= {minimum}", minimum, f"{minimum}, the shortest cap")
    return value


def _parse_libraries(raw: str) -> tuple[str, ...]:
    if raw.lower() == "none":
        return ()
    names = tuple(name.lower() for name in _names(raw))
    kept = tuple(name for name in names if name in KNOWN_LIBRARIES)
    if len(kept) != len(names):
        raise BadValue("a comma list of " + ", ".join(KNOWN_LIBRARIES) + " or none", kept, ",".join(kept) or "none")
    return kept


_BAGGAGE_KEY = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
"""A W3C baggage key: an RFC 7230 token."""


def _parse_baggage_keys(raw: str) -> tuple[str, ...]:
    if raw.lower() == "none":
        return ()
    names = _names(raw)
    kept = tuple(name for name in names if _BAGGAGE_KEY.fullmatch(name))
    if not names or len(kept) != len(names):
        raise BadValue("a comma list of W3C baggage keys, or none", kept, ",".join(kept) or "none")
    return kept


def _parse_user_id_hash_key(raw: str) -> bytes:
    key = raw.encode()
    if len(key) < MIN_USER_ID_HASH_KEY_BYTES:
        expected = f"a key of at least {MIN_USER_ID_HASH_KEY_BYTES} bytes, not {len(key)}"
        raise BadValue(expected, key, "this short key")
    return key


def _matches_every_name(pattern: str) -> bool:
    """Whether a shell-style pattern matches every non-empty span name (`*`, `?*`...)."""
    return set(pattern) <= {"*", "?"} and pattern.count("?") <= 1


def _parse_always_sample(raw: str) -> tuple[str, ...]:
    if raw.lower() == "none":
        return ()
    names = _names(raw)
    kept = tuple(name for name in names if not _matches_every_name(name))
    if len(kept) != len(names):
        raise BadValue("root span name patterns, none of them matching every name", kept, ",".join(kept) or "none")
    return kept


def _parse_rate(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0.0 <= value < float("inf"):
        raise BadValue("a number >= 0")
    return value


def _parse_byte_count(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise BadValue("a whole number of bytes >= 0")
    return value


def _parse_seconds(raw: str) -> float:
    value = _parse_rate(raw)
    if value == 0.0:
        raise BadValue("a number of seconds > 0")
    return value


def _parse_file_path(raw: str) -> str:
    if "\0" in raw or os.path.isdir(raw):
        raise BadValue("the path of a file, not of a directory")
    return raw


CONTENT_CAPTURE = Setting(
    CAPTURE_MESSAGE_CONTENT,
    _parse_content_mode,
    ContentMode.NONE,
    ContentMode.NONE,
    doc="content capture: `true`/`false`, `no_content`, `span_only`, `event_only`, `span_and_event`",
    default_doc="`no_content`",
    fallback_doc="no_content",
    example="`span_only`",
    safe_side="content is captured only when a valid value asks for it",
    field="content_mode",
    flag=False,
)
REDACT = Setting(
    OTEL_KOTAEMON_REDACT,
    _parse_rules,
    REDACTION_RULES,
    REDACTION_RULES,
    doc="redaction rules (`credentials,bearer,api_key,email,card,phone`, or `all`), or `none`",
    default_doc="all rules",
    fallback_doc="all rules",
    example="`email,phone`",
    safe_side="only `none` turns redaction off",
    field="redact",
)
REDACT_PATTERNS: Setting[tuple[re.Pattern[str], ...]] = Setting(
    OTEL_KOTAEMON_REDACT_PATTERNS,
    _parse_patterns,
    (),
    (WITHHOLD_EVERYTHING,),
    doc="extra regular expressions to redact, as a JSON list",
    default_doc="none",
    fallback_doc="one pattern that matches every text",
    example='`["ACME-[0-9]+"]`',
    safe_side="every text redaction cleans is exported as `[REDACTED]` until the list is fixed; "
    "the value is never shown",
    field="redact_patterns",
    sensitive=True,
)
CONTENT_MAX_LENGTH = Setting(
    OTEL_KOTAEMON_CONTENT_MAX_LENGTH,
    _parse_content_max_length,
    DEFAULT_CONTENT_MAX_LENGTH,
    DEFAULT_CONTENT_MAX_LENGTH,
    doc="longest captured value, in characters",
    default_doc=f"`{DEFAULT_CONTENT_MAX_LENGTH}`",
    fallback_doc=str(DEFAULT_CONTENT_MAX_LENGTH),
    example="`2000`",
    safe_side=f"a number below {MIN_CONTENT_MAX_LENGTH} gets {MIN_CONTENT_MAX_LENGTH}, never the longer default",
    field="content_max_length",
)
OPENAI_STREAM_USAGE = Setting(
    OTEL_KOTAEMON_OPENAI_STREAM_USAGE,
    _parse_stream_usage,
    StreamUsage.AUTO,
    StreamUsage.AUTO,
    doc="ask streamed chat calls for token usage: `auto` where known to work (api.openai.com, Azure API from "
    "2024-09-01), `always`, `never` ([what we change](docs/tracing.md#what-we-change))",
    default_doc="`auto`",
    fallback_doc="auto",
    example="`always`",
    safe_side="only where the server is known to accept the request; a refusal is answered by the call made again "
    "as the app made it",
    field="openai_stream_usage",
)
INSTRUMENT = Setting(
    OTEL_KOTAEMON_INSTRUMENT,
    _parse_libraries,
    KNOWN_LIBRARIES,
    KNOWN_LIBRARIES,
    doc="libraries to instrument (" + ", ".join(f"`{name}`" for name in KNOWN_LIBRARIES) + "), or `none`",
    default_doc="all installed",
    fallback_doc="the known names in the list",
    example="`kotaemon,openai`",
    field="instrument",
)
TRACE_ALL_STEPS = Setting(
    OTEL_KOTAEMON_TRACE_ALL_STEPS,
    _parse_bool,
    False,
    False,
    doc="trace every Kotaemon (theflow) step, not only components and outer pipelines",
    default_doc="`false`",
    fallback_doc="false",
    example="`true`",
    field="trace_all_steps",
)
LANGCHAIN_ALL_RUNNABLES = Setting(
    OTEL_KOTAEMON_LANGCHAIN_ALL_RUNNABLES,
    _parse_bool,
    False,
    False,
    doc="trace every LangChain runnable (prompts, parsers, lambdas)",
    default_doc="`false`",
    fallback_doc="false",
    example="`true`",
    field="langchain_all_runnables",
)
BAGGAGE_KEYS = Setting(
    OTEL_KOTAEMON_BAGGAGE_KEYS,
    _parse_baggage_keys,
    DEFAULT_BAGGAGE_KEYS,
    (),
    doc="baggage entries copied onto our spans (`kotaemon.*` ones always are), or `none`",
    default_doc="`" + ",".join(DEFAULT_BAGGAGE_KEYS) + "`",
    fallback_doc="the well-formed keys in the list",
    example="`tenant.id,session.id`",
    safe_side="a malformed key is dropped, never read as more entries",
    field="baggage_keys",
)
HASH_USER_ID = Setting(
    OTEL_KOTAEMON_HASH_USER_ID,
    _parse_bool,
    True,
    True,
    doc="`user.id` pseudonymised as `sha256:<16 hex>`",
    default_doc="`true`",
    fallback_doc="true",
    example="`false`",
    safe_side="only `false` exports the user id itself (redacted)",
    field="hash_user_id",
)
IDS_ON_EVERY_SPAN = Setting(
    OTEL_KOTAEMON_IDS_ON_EVERY_SPAN,
    _parse_bool,
    True,
    True,
    doc="conversation, session and user ids (and copied baggage) on every span of ours in a turn, not only where "
    "learnt",
    default_doc="`true`",
    fallback_doc="true",
    example="`false`",
    field="ids_on_every_span",
)
USER_ID_HASH_KEY: Setting[bytes | None] = Setting(
    OTEL_KOTAEMON_USER_ID_HASH_KEY,
    _parse_user_id_hash_key,
    None,
    None,
    doc="secret key: `user.id` becomes `hmac-sha256:<16 hex>`, keyed",
    default_doc="none",
    fallback_doc="the key",
    example="64 random hex digits",
    safe_side="a shorter key still hashes `user.id`, keyed, but is easier to guess; the key is never shown",
    field="user_id_hash_key",
    sensitive=True,
    flag=False,
)
ALWAYS_SAMPLE: Setting[tuple[str, ...]] = Setting(
    OTEL_KOTAEMON_ALWAYS_SAMPLE,
    _parse_always_sample,
    (),
    (),
    doc="root span name patterns our samplers always keep",
    default_doc="none",
    fallback_doc="the other patterns",
    example="`login*,*payment*`",
    safe_side="a pattern that matches every name is dropped; keeping every trace is `OTEL_TRACES_SAMPLER=always_on`",
)
DEBUG_TRACES_PER_SECOND = Setting(
    OTEL_KOTAEMON_DEBUG_TRACES_PER_SECOND,
    _parse_rate,
    DEFAULT_DEBUG_TRACES_PER_SECOND,
    DEFAULT_DEBUG_TRACES_PER_SECOND,
    doc="new traces per second (per process, bursts of ten seconds' worth) the debug header or `kotaemon.debug` "
    "baggage may force past our samplers; `0` ignores both",
    default_doc=f"`{DEFAULT_DEBUG_TRACES_PER_SECOND:g}`",
    fallback_doc=f"{DEFAULT_DEBUG_TRACES_PER_SECOND:g}",
    example="`1`",
    safe_side="any client can send the header: beyond the budget, forced traces are sampled like the rest",
)
GEN_AI_CONVENTIONS = Setting(
    SEMCONV_STABILITY_OPT_IN,
    _parse_gen_ai_conventions,
    GenAiConventions.LATEST,
    GenAiConventions.LATEST,
    doc=f"`{GEN_AI_NEXT}`: the metric names of the open GenAI convention changes, `/dup` both "
    "([names](docs/names.md)); other values are other instrumentations'",
    default_doc="newest merged names",
    fallback_doc=GEN_AI_LATEST,
    example=f"`{GEN_AI_NEXT_DUP}`",
    field="gen_ai_conventions",
    flag=False,
)
FILE_PATH = Setting(
    OTEL_KOTAEMON_FILE_PATH,
    _parse_file_path,
    DEFAULT_FILE_PATH,
    DEFAULT_FILE_PATH,
    doc="the file the `kotaemon_file` exporters append to",
    default_doc=f"`{DEFAULT_FILE_PATH}`",
    fallback_doc=DEFAULT_FILE_PATH,
    example="`rag-telemetry.jsonl`",
)
EXPORT_RETRY_MAX_BYTES = Setting(
    OTEL_KOTAEMON_EXPORT_RETRY_MAX_BYTES,
    _parse_byte_count,
    DEFAULT_EXPORT_RETRY_MAX_BYTES,
    DEFAULT_EXPORT_RETRY_MAX_BYTES,
    doc="bytes of spans (and of log records) kept while the collector is away; past it the oldest are dropped",
    default_doc=f"`{DEFAULT_EXPORT_RETRY_MAX_BYTES}` (32 MiB)",
    fallback_doc=str(DEFAULT_EXPORT_RETRY_MAX_BYTES),
    example="`8388608`",
    front_page=False,
)
EXPORT_RETRY_MAX_AGE = Setting(
    OTEL_KOTAEMON_EXPORT_RETRY_MAX_AGE,
    _parse_seconds,
    DEFAULT_EXPORT_RETRY_MAX_AGE,
    DEFAULT_EXPORT_RETRY_MAX_AGE,
    doc="seconds a batch the collector did not take is kept and sent again",
    default_doc=f"`{DEFAULT_EXPORT_RETRY_MAX_AGE:g}`",
    fallback_doc=f"{DEFAULT_EXPORT_RETRY_MAX_AGE:g}",
    example="`3600`",
    front_page=False,
)


def _parse_spool_directory(raw: str) -> str | None:
    if "\0" in raw or (os.path.exists(raw) and not os.path.isdir(raw)):
        raise BadValue("the path of a directory")
    return raw


_SIZE_UNITS = {"": 1, "kib": 1024, "mib": MIB, "gib": 1024 * MIB}


def _parse_spool_max_bytes(raw: str) -> int:
    expected = "a number of bytes, or of KiB, MiB or GiB (`512MiB`), at least 1 MiB"
    match = re.fullmatch(r"(\d+)\s*([a-z]*)", raw.lower())
    if match is None or match.group(2) not in _SIZE_UNITS:
        raise BadValue(expected)
    value = int(match.group(1)) * _SIZE_UNITS[match.group(2)]
    if value < MIN_SPOOL_MAX_BYTES:
        raise BadValue(expected, MIN_SPOOL_MAX_BYTES, "1 MiB, the smallest bound")
    return value


SPOOL_DIR: Setting[str | None] = Setting(
    OTEL_KOTAEMON_SPOOL_DIR,
    _parse_spool_directory,
    None,
    None,
    doc="keep undelivered traces and logs in files here ([spool](docs/operations.md#spool-on-disk))",
    default_doc="none: memory only",
    fallback_doc="no spool",
    example="`/var/spool/otel`",
    front_page=False,
)
SPOOL_MAX_BYTES = Setting(
    OTEL_KOTAEMON_SPOOL_MAX_BYTES,
    _parse_spool_max_bytes,
    DEFAULT_SPOOL_MAX_BYTES,
    DEFAULT_SPOOL_MAX_BYTES,
    doc="most the spool holds for each signal of a process, in bytes (or `KiB`, `MiB`, `GiB`); past it the oldest "
    "batches are dropped (counted)",
    default_doc="`256MiB`",
    fallback_doc="256MiB",
    example="`1GiB`",
    front_page=False,
)
SPOOL_MAX_AGE = Setting(
    OTEL_KOTAEMON_SPOOL_MAX_AGE,
    _parse_seconds,
    DEFAULT_SPOOL_MAX_AGE,
    DEFAULT_SPOOL_MAX_AGE,
    doc="seconds a batch is kept in the spool (and sent by a later start) before it is dropped (counted)",
    default_doc=f"`{DEFAULT_SPOOL_MAX_AGE:g}` (a day)",
    fallback_doc=f"{DEFAULT_SPOOL_MAX_AGE:g}",
    example="`604800`",
    front_page=False,
)
ASGI_MESSAGE_SPANS = Setting(
    OTEL_KOTAEMON_ASGI_MESSAGE_SPANS,
    _parse_bool,
    False,
    False,
    doc="keep the FastAPI instrumentation's `http send` / `http receive` spans, one per ASGI message "
    "([Gradio](docs/tracing.md#gradio-and-the-ktem-web-app))",
    default_doc="`false`",
    fallback_doc="false",
    example="`true`",
)

SETTINGS: tuple[Setting[Any], ...] = (
    CONTENT_CAPTURE,
    REDACT,
    REDACT_PATTERNS,
    CONTENT_MAX_LENGTH,
    OPENAI_STREAM_USAGE,
    INSTRUMENT,
    TRACE_ALL_STEPS,
    LANGCHAIN_ALL_RUNNABLES,
    BAGGAGE_KEYS,
    HASH_USER_ID,
    USER_ID_HASH_KEY,
    IDS_ON_EVERY_SPAN,
    ALWAYS_SAMPLE,
    DEBUG_TRACES_PER_SECOND,
    GEN_AI_CONVENTIONS,
    FILE_PATH,
    EXPORT_RETRY_MAX_BYTES,
    EXPORT_RETRY_MAX_AGE,
    SPOOL_DIR,
    SPOOL_MAX_BYTES,
    SPOOL_MAX_AGE,
    ASGI_MESSAGE_SPANS,
)
"""Every variable of ours (and the standard content capture variable), in the order the docs list them."""


@dataclass(frozen=True)
class Settings:
    """The effective configuration of the instrumentation: a field per row of `SETTINGS` that names it."""

    content_mode: ContentMode = CONTENT_CAPTURE.default
    redact: tuple[str, ...] = REDACT.default
    redact_patterns: tuple[re.Pattern[str], ...] = REDACT_PATTERNS.default
    content_max_length: int = CONTENT_MAX_LENGTH.default
    openai_stream_usage: StreamUsage = OPENAI_STREAM_USAGE.default
    instrument: tuple[str, ...] = INSTRUMENT.default
    trace_all_steps: bool = TRACE_ALL_STEPS.default
    langchain_all_runnables: bool = LANGCHAIN_ALL_RUNNABLES.default
    baggage_keys: tuple[str, ...] = BAGGAGE_KEYS.default
    hash_user_id: bool = HASH_USER_ID.default
    user_id_hash_key: bytes | None = USER_ID_HASH_KEY.default
    ids_on_every_span: bool = IDS_ON_EVERY_SPAN.default
    gen_ai_conventions: GenAiConventions = GEN_AI_CONVENTIONS.default

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read every row once; bad values log a warning and get their row's fallback."""
        env = os.environ if env is None else env
        return cls(**{row.field: row.read(env) for row in SETTINGS if row.field})


def read_spool_directory(env: Mapping[str, str] | None = None) -> str | None:
    """The absolute path of the spool directory, or None when there is no spool (the default)."""
    directory = SPOOL_DIR.read(os.environ if env is None else env)
    return None if directory is None else os.path.abspath(directory)


def read_file_path(env: Mapping[str, str] | None = None) -> str:
    """The absolute path of the `kotaemon_file` exporters' file (a directory falls back to the default)."""
    return os.path.abspath(FILE_PATH.read(os.environ if env is None else env))


# --- Standard variables we read or give a default, checked before the SDK reads them
# The SDK aborts all of auto-instrumentation on some malformed values (an unknown protocol or exporter, a timeout
# that is not a number); each is replaced by a safe value here, with one warning naming it.


@dataclass(frozen=True)
class StandardSetting:
    """One row of the standard variables' table: what we do with them, our default, and what a bad value gets."""

    variables: tuple[str, ...]
    """The variables of the row (`OTEL_BSP_*` stands for a family)."""
    doc: str
    """Our default, or what we do with them (the README's column)."""
    on_bad: str = ""
    """What a malformed value gets (the SDK's handling when empty)."""
    value: str | None = None
    """What the distro sets when the user set nothing; None when it sets nothing, or a value it works out."""
    front_page: bool = True
    """Shown in the README too (the rest only in docs/configuration.md)."""


_SIGNALS = ("TRACES", "METRICS", "LOGS")
_PROTOCOLS = ("grpc", "http/protobuf")
_NUMBERS_ON_BAD = "not a number >= 0: dropped, so the SDK's default applies"

STANDARD_SETTINGS = (
    StandardSetting(
        ("OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER", "OTEL_LOGS_EXPORTER"),
        "`otlp`; `kotaemon_file` writes a local file",
        "exporters not installed are dropped (`otlp` if none is left)",
        "otlp",
    ),
    StandardSetting(
        ("OTEL_EXPORTER_OTLP_PROTOCOL",),
        "`grpc` (port 4317); with the extra `[http]` installed, `http/protobuf` (4318)",
        "that default (`http/json` too); `http/protobuf` without its exporter: `grpc`",
    ),
    StandardSetting(
        ("OTEL_EXPORTER_OTLP_ENDPOINT",),
        "where to export (default: this machine); failures are reported once, naming it",
    ),
    StandardSetting(
        ("OTEL_EXPORTER_OTLP_TIMEOUT",),
        "unset: `1` s per export attempt, given in seconds (whichever unit an SDK reads here); exit stays fast",
        _NUMBERS_ON_BAD,
    ),
    StandardSetting(
        ("OTEL_EXPORTER_OTLP_HEADERS",),
        "export headers, also per signal (warnings name keys, never values)",
        "malformed `key=value` pairs are dropped; the warning names the keys kept, never a value",
        front_page=False,
    ),
    StandardSetting(
        ("OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG"),
        "our samplers: `kotaemon_ratelimit` (default 10 traces/s), `kotaemon_ratio`, `jaeger_remote`",
        "a bad argument: the sampler's default",
    ),
    StandardSetting(
        ("OTEL_SERVICE_NAME",),
        "the script's name, not `unknown_service` (a `service.name` in `OTEL_RESOURCE_ATTRIBUTES` wins)",
    ),
    StandardSetting(
        ("OTEL_PYTHON_DISTRO", "OTEL_PYTHON_CONFIGURATOR"),
        "`kotaemon` (ours, not `opentelemetry-distro`'s)",
        value=ENTRY_POINT_NAME,
        front_page=False,
    ),
    StandardSetting(
        ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",),
        f"`{ATTRIBUTE_LENGTH_LIMIT}` (unless `OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT` is set)",
        _NUMBERS_ON_BAD,
        front_page=False,
    ),
    StandardSetting(
        ("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST",),
        "`x-debug-tracing`, the header that forces a trace",
        value="x-debug-tracing",
        front_page=False,
    ),
    StandardSetting(
        ("OTEL_PYTHON_LOG_AUTO_INSTRUMENTATION",),
        "`false`: app logs are exported when you ask (`OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED`)",
        value="false",
        front_page=False,
    ),
    StandardSetting(
        ("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS",),
        "`kotaemon` switches us off; `threading` our context in threads; `logging` our trace ids in log records",
    ),
    StandardSetting(
        ("OTEL_BSP_*", "OTEL_BLRP_*", "OTEL_METRIC_EXPORT_*", "OTEL_ATTRIBUTE_COUNT_LIMIT", "OTEL_SPAN_*_LIMIT"),
        "the SDK's; a malformed value is dropped with a warning",
        _NUMBERS_ON_BAD,
        front_page=False,
    ),
)
"""The standard variables we read or give a default, in the order the docs list them."""
DISTRO_DEFAULTS = {name: row.value for row in STANDARD_SETTINGS if row.value is not None for name in row.variables}
"""What the distro sets for each of these the user left unset (the values it works out are in the distro)."""


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


def _sanitize_headers(environ: MutableMapping[str, str], name: str) -> None:
    """Drop malformed `key=value` pairs. Header values hold tokens, and a malformed entry may be a piece of one (a
    value with a comma in it), so the warning names the positions of the dropped entries and the kept keys only."""
    raw = _read(environ, name)
    if raw is None:
        return
    items = [item.strip() for item in raw.split(",") if item.strip()]
    kept = [item for item in items if _valid_header(item)]
    if len(kept) == len(items):
        return
    dropped = ", ".join(str(number) for number, item in enumerate(items, 1) if not _valid_header(item))
    keys = ", ".join(item.partition("=")[0].strip() for item in kept) or "none"
    expected = f"a comma list of key=value pairs; entries {dropped} of {len(items)} are not; values are not shown"
    warn_invalid(name, None, f"the well-formed headers only (keys: {keys})", expected)
    environ[name] = ",".join(kept)


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
        _sanitize_headers(environ, name)
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


# --- the docs' tables


def _cell(names: tuple[str, ...]) -> str:
    return ", ".join(f"`{name}`" for name in names)


def _as_doc(fallback: str) -> str:
    """A fallback as the docs show it: a value in code type, a description as it is."""
    return fallback if " " in fallback else f"`{fallback}`"


def markdown_table(page: str) -> str:
    """Our settings' table as `page` (`README.md` or `configuration.md`) shows it."""
    if page == "README.md":
        lines = ["| Variable | Default | Meaning |", "|---|---|---|"]
        lines += [f"| `{row.variable}` | {row.default_doc} | {row.doc} |" for row in SETTINGS if row.front_page]
        return "\n".join(lines)
    lines = ["| Variable | Default | Example | Meaning | A bad value gets |", "|---|---|---|---|---|"]
    for row in SETTINGS:
        on_bad = _as_doc(row.fallback_doc) + (f"; {row.safe_side}" if row.safe_side else "")
        doc = row.doc.replace("](docs/", "](")  # links written from the README, read from docs/
        lines.append(f"| `{row.variable}` | {row.default_doc} | {row.example} | {doc} | {on_bad} |")
    return "\n".join(lines)


def standard_markdown_table(page: str) -> str:
    """The standard variables' table as `page` (`README.md` or `configuration.md`) shows it."""
    if page == "README.md":
        lines = ["| Variable | Our default or use |", "|---|---|"]
        lines += [f"| {_cell(row.variables)} | {row.doc} |" for row in STANDARD_SETTINGS if row.front_page]
        return "\n".join(lines)
    lines = ["| Variable | Our default or use | A bad value gets |", "|---|---|---|"]
    lines += [f"| {_cell(row.variables)} | {row.doc} | {row.on_bad or 'not checked'} |" for row in STANDARD_SETTINGS]
    return "\n".join(lines)
