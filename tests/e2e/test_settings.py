"""Each setting's effect, good and bad values, through `opentelemetry-instrument` in a subprocess.

One run per row; a row sets several variables whose effects can be told apart. Every bad value must log exactly one
warning on stderr (app-log export on or off) naming the variable and the value, or for a variable that may hold a
secret the variable alone, and nothing of the value; a row without bad values must log none. Settings tested end to end
elsewhere: content capture on and off, redaction defaults and the API key (test_openai.py, test_no_leaks.py),
our samplers, `OTEL_KOTAEMON_ALWAYS_SAMPLE`, debug baggage, hashed `user.id`, service name, logs export and the first
bad standard values (test_configuration.py), the debug header (test_web_server.py), the OTLP timeout
(test_collector_down.py), `OTEL_PYTHON_DISABLED_INSTRUMENTATIONS` (test_openai.py).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from opentelemetry_instrumentation_kotaemon.settings import SETTINGS
from tests.kotaemon_standin import environment
from tests.support.e2e import run_instrumented
from tests.support.openai_server import OpenAIServer
from tests.support.otlp_receiver import OtlpReceiver, Span

CARD, EMAIL, PHONE, KEY = (
    "4111 1111 1111 1111",
    "jane.doe@example.com",
    "415-555-2671",
    "sk-live-abcdefghijklmnopqrstuvwx",
)
DETAILS_EVENT = "gen_ai.client.inference.operation.details"
HEADERS = tuple(f"OTEL_EXPORTER_OTLP_{s}HEADERS" for s in ("", "TRACES_", "METRICS_", "LOGS_"))
SENSITIVE = {row.variable for row in SETTINGS if row.sensitive} | set(HEADERS)
"""Variables whose values no warning may show (a header value holds a token)."""


@dataclass
class Run:
    receiver: OtlpReceiver
    server: OpenAIServer

    def span(self, name: str) -> Span:
        spans = [s for s in self.receiver.spans if s.name == name]
        assert len(spans) == 1, [s.name for s in self.receiver.spans]
        return spans[0]

    def names(self) -> list[str]:
        return [s.name for s in sorted(self.receiver.spans, key=lambda s: s.start)]

    def request(self, model: str) -> dict[str, Any]:
        """The body of the one request the server received for `model`."""
        (body,) = [b for _, b, _ in self.server.requests if b.get("model") == model]
        return body


@dataclass(frozen=True)
class Row:
    app: str
    args: tuple[str, ...]
    env: dict[str, str]
    check: Callable[[Run], None]
    bad: tuple[str, ...] = ()
    """The variables of `env` whose values are malformed."""
    kotaemon: bool = False
    """The app imports Kotaemon (the test stand-in) and takes the server address as its argument."""


# --- checks, one per row


def content_on_events_only_with_chosen_redaction(run: Run) -> None:
    assert not any("gen_ai.input.messages" in s.attributes for s in run.receiver.spans)
    events = repr([r for r in run.receiver.logs if r.event_name == DETAILS_EVENT])
    assert "[REDACTED:email]" in events and EMAIL not in events
    assert CARD in events and PHONE in events  # rules not chosen
    assert "[REDACTED]" in events and KEY not in events  # the extra pattern
    # no usage requested for the stream the app did not ask it for
    assert "stream_options" not in run.request("m-stream-full")
    streamed = run.span("chat m-stream-full").attributes
    assert "gen_ai.usage.output_tokens" not in streamed


def content_on_spans_unredacted_and_capped(run: Run) -> None:
    value = run.span("chat m-tool").attributes["gen_ai.input.messages"]
    assert CARD in value and EMAIL in value  # no redaction
    assert value.endswith("chars]") and len(value) < 120 + len("...[truncated 100 chars]")
    assert run.receiver.logs == []  # span_only


def bad_content_values_fall_back(run: Run) -> None:
    names = {s.name for s in run.receiver.spans}
    assert names == {"chat m-tool", "chat m-tool-stream", "chat m-stream-full"}  # sampler argument: 1.0
    value = run.span("chat m-tool").attributes["gen_ai.input.messages"]
    assert "[REDACTED:email]" in value and "[REDACTED:card]" in value  # a typo in one rule keeps every rule
    assert "[REDACTED:phone]" in value and "[REDACTED:api_key]" in value
    assert "truncated" not in value  # the default length
    # the stream usage request: `auto`, which does not ask this server (127.0.0.1), so no token counts
    assert "stream_options" not in run.request("m-stream-full")
    assert "gen_ai.usage.output_tokens" not in run.span("chat m-stream-full").attributes


def every_rule_for_true(run: Run) -> None:
    value = run.span("chat m-tool").attributes["gen_ai.input.messages"]
    events = repr([r for r in run.receiver.logs if r.event_name == DETAILS_EVENT])
    for text in (value, events):
        assert all(f"[REDACTED:{rule}]" in text for rule in ("card", "email", "phone", "api_key")), text
        assert not any(secret in text for secret in (CARD, EMAIL, PHONE, KEY)), text


def _debug_span(run: Run) -> dict[str, Any]:
    return run.span("chat m-variant-b").attributes


def chosen_baggage_keys_and_raw_user_id(run: Run) -> None:
    attributes = _debug_span(run)
    assert attributes["user.id"] == "alice@example.com"  # (an e-mail address: kept only with redaction off)
    assert attributes["unrelated"] == "not copied"  # (the app's value for the entry it does not expect to see)
    assert "session.id" not in attributes and "gen_ai.conversation.id" not in attributes
    assert attributes["kotaemon.variant"] == "m-variant-b"  # kotaemon.* entries always


def user_id_keyed_after_bad_values(run: Run) -> None:
    attributes = _debug_span(run)
    digest = hmac.new(SHORT_KEY.encode(), b"alice@example.com", hashlib.sha256).hexdigest()
    assert attributes["user.id"] == "hmac-sha256:" + digest[:16] and "alice" not in repr(attributes)
    assert "session.id" not in attributes


def no_baggage_keys(run: Run) -> None:
    attributes = _debug_span(run)
    assert not {"user.id", "session.id", "gen_ai.conversation.id", "unrelated"} & set(attributes)
    assert attributes["kotaemon.variant"] == "m-variant-b"


def every_langchain_runnable_and_no_openai_layer(run: Run) -> None:
    names = run.names()
    assert {"ChatPromptTemplate", "StrOutputParser", "RunnableLambda"} <= set(names)
    chat = run.span("chat m-rag").attributes
    assert "kotaemon.component" in chat
    assert "server.address" not in chat and "server.port" not in chat  # learned from the OpenAI layer only


def langchain_chains_at_the_top_only(run: Run) -> None:
    assert run.names() == ["invoke_workflow RunnableSequence", "retrieval FixedRetriever", "chat m-rag"]
    assert run.span("chat m-rag").attributes["server.address"] == "127.0.0.1"  # openai was kept


def openai_layer_only(run: Run) -> None:
    (span,) = run.receiver.spans
    assert span.name == "chat m-rag" and span.parent_id == ""
    assert "kotaemon.component" not in span.attributes


def nothing_instrumented(run: Run) -> None:
    assert run.receiver.spans == []
    assert not [p for p in run.receiver.points if p.metric.startswith(("gen_ai.", "kotaemon."))]


def every_kotaemon_step(run: Run) -> None:
    assert run.names() == ["invoke_workflow Ask", "invoke_workflow BasePromptComponent", "chat kt-steps"]
    assert run.span("invoke_workflow BasePromptComponent").attributes["kotaemon.step"] == "prompt"


def kotaemon_steps_of_known_kinds_only(run: Run) -> None:
    assert run.names() == ["invoke_workflow Ask", "chat kt-steps"]


def telemetry_flows_despite_bad_standard_values(run: Run) -> None:
    assert run.span("chat m-sync")
    assert run.receiver.points
    # unreadable extra patterns: every text redaction cleans is withheld whole
    details = [r for r in run.receiver.logs if r.event_name == DETAILS_EVENT]
    assert details and all(r.attributes["gen_ai.input.messages"] == "[REDACTED]" for r in details)
    assert all(r.attributes["gen_ai.output.messages"] == "[REDACTED]" for r in details)
    traces = [headers for path, headers in run.receiver.headers if path.endswith("/v1/traces")]
    assert traces and all(headers.get("x-tenant") == "acme" for headers in traces)  # the well-formed headers
    assert all(headers.get("authorization") == "Bearer tok-SECRET1" for headers in traces)


def attribute_length_default(run: Run) -> None:
    assert len(run.span("chat m-long").attributes["gen_ai.input.messages"]) == 16384
    assert run.span("chat m-long").resource["service.name"] == "from-resource"


def attribute_length_chosen(run: Run) -> None:
    assert len(run.span("chat m-long").attributes["gen_ai.input.messages"]) == 1000


def sampled_with_span_length_limit(run: Run) -> None:
    # the rate limiter fell back to its default of 10 new traces a second, so this one trace is kept; the user's
    # span-specific limit wins over our default length
    assert len(run.span("chat m-long").attributes["gen_ai.input.messages"]) == 700


def sampled_at_full_ratio(run: Run) -> None:
    assert run.span("chat m-sync")


CAPTURE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
LOG_EXPORT = {"OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED": "true"}  # SDK 1.27 to 1.45
SHORT_KEY = "k-SECRET-13ch"
TOOLS_AND_STREAM = ("tool_call", "stream_full")
DEBUG_SAMPLER = {"OTEL_TRACES_SAMPLER": "kotaemon_ratio", "OTEL_TRACES_SAMPLER_ARG": "0"}  # the debug request only
BAD_STANDARD = {
    **{f"OTEL_EXPORTER_OTLP_{s}_PROTOCOL": "http/json" for s in ("TRACES", "METRICS", "LOGS")},
    **{f"OTEL_EXPORTER_OTLP_{s}_TIMEOUT": "soon" for s in ("TRACES", "METRICS", "LOGS")},
    **{f"OTEL_{p}_{v}": "-5" for p in ("BSP", "BLRP") for v in ("SCHEDULE_DELAY", "EXPORT_TIMEOUT")},
    **{f"OTEL_{p}_{v}": "many" for p in ("BSP", "BLRP") for v in ("MAX_QUEUE_SIZE", "MAX_EXPORT_BATCH_SIZE")},
    "OTEL_METRIC_EXPORT_INTERVAL": "1m",
    "OTEL_METRIC_EXPORT_TIMEOUT": "1m",
    "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "long",
    "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT": "long",
    "OTEL_ATTRIBUTE_COUNT_LIMIT": "lots",
    "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT": "lots",
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "x-tenant=acme,authorization=Bearer tok-SECRET1,tok-SECRET2",
    "OTEL_EXPORTER_OTLP_METRICS_HEADERS": "=x",
    "OTEL_EXPORTER_OTLP_LOGS_HEADERS": "no-value=",
    "OTEL_METRICS_EXPORTER": "nothing-installed",
    "OTEL_LOGS_EXPORTER": "otlp,nope",
}
LONG_PROMPT = {CAPTURE: "true", "OTEL_KOTAEMON_CONTENT_MAX_LENGTH": "100000"}

ROWS = {
    "content-events-redaction-no-stream-usage": Row(
        "openai_app.py",
        TOOLS_AND_STREAM,
        {
            CAPTURE: "event_only",
            "OTEL_KOTAEMON_REDACT": "email",
            "OTEL_KOTAEMON_REDACT_PATTERNS": '["sk-live-[a-z]+"]',
            "OTEL_KOTAEMON_OPENAI_STREAM_USAGE": "false",
        },
        content_on_events_only_with_chosen_redaction,
    ),
    "content-spans-no-redaction-capped": Row(
        "openai_app.py",
        ("tool_call",),
        {CAPTURE: "true", "OTEL_KOTAEMON_REDACT": "none", "OTEL_KOTAEMON_CONTENT_MAX_LENGTH": "120"},
        content_on_spans_unredacted_and_capped,
    ),
    "content-bad-values-with-log-export": Row(
        "openai_app.py",
        TOOLS_AND_STREAM,
        {
            CAPTURE: "span_only",
            "OTEL_KOTAEMON_REDACT": "email,ssn",
            "OTEL_KOTAEMON_CONTENT_MAX_LENGTH": "lots",
            "OTEL_KOTAEMON_OPENAI_STREAM_USAGE": "maybe",
            "OTEL_TRACES_SAMPLER": "kotaemon_ratio",
            "OTEL_TRACES_SAMPLER_ARG": "lots",
            **LOG_EXPORT,  # the SDK's exporting handler is the root logger's only one: warnings still on stderr
        },
        bad_content_values_fall_back,
        bad=(
            "OTEL_KOTAEMON_REDACT",
            "OTEL_KOTAEMON_CONTENT_MAX_LENGTH",
            "OTEL_KOTAEMON_OPENAI_STREAM_USAGE",
            "OTEL_TRACES_SAMPLER_ARG",
        ),
    ),
    "redact-true-is-every-rule": Row(
        "openai_app.py",
        ("tool_call",),
        {CAPTURE: "span_and_event", "OTEL_KOTAEMON_REDACT": "true"},
        every_rule_for_true,
    ),
    "baggage-keys-raw-user-id": Row(
        "baggage_app.py",
        (),
        {
            **DEBUG_SAMPLER,
            "OTEL_KOTAEMON_BAGGAGE_KEYS": "unrelated, user.id",
            "OTEL_KOTAEMON_HASH_USER_ID": "false",
            "OTEL_KOTAEMON_REDACT": "none",
        },
        chosen_baggage_keys_and_raw_user_id,
    ),
    "baggage-bad-hash-value-short-key": Row(
        "baggage_app.py",
        (),
        {
            **DEBUG_SAMPLER,
            "OTEL_KOTAEMON_BAGGAGE_KEYS": "user.id",
            "OTEL_KOTAEMON_HASH_USER_ID": "maybe",
            "OTEL_KOTAEMON_USER_ID_HASH_KEY": SHORT_KEY,
        },
        user_id_keyed_after_bad_values,
        bad=("OTEL_KOTAEMON_HASH_USER_ID", "OTEL_KOTAEMON_USER_ID_HASH_KEY"),
    ),
    "baggage-keys-none": Row(
        "baggage_app.py", (), {**DEBUG_SAMPLER, "OTEL_KOTAEMON_BAGGAGE_KEYS": "none"}, no_baggage_keys
    ),
    "langchain-only-every-runnable": Row(
        "examples/langchain_app.py",
        ("rag",),
        {"OTEL_KOTAEMON_INSTRUMENT": "langchain", "OTEL_KOTAEMON_LANGCHAIN_ALL_RUNNABLES": "true"},
        every_langchain_runnable_and_no_openai_layer,
    ),
    "langchain-bad-values": Row(
        "examples/langchain_app.py",
        ("rag",),
        {"OTEL_KOTAEMON_INSTRUMENT": "langchain,openai,cohere", "OTEL_KOTAEMON_LANGCHAIN_ALL_RUNNABLES": "maybe"},
        langchain_chains_at_the_top_only,
        bad=("OTEL_KOTAEMON_INSTRUMENT", "OTEL_KOTAEMON_LANGCHAIN_ALL_RUNNABLES"),
    ),
    "instrument-openai-only": Row(
        "examples/langchain_app.py", ("rag",), {"OTEL_KOTAEMON_INSTRUMENT": "openai"}, openai_layer_only
    ),
    "instrument-none": Row("openai_app.py", ("sync",), {"OTEL_KOTAEMON_INSTRUMENT": "none"}, nothing_instrumented),
    "kotaemon-every-step": Row(
        "kotaemon_steps_app.py", (), {"OTEL_KOTAEMON_TRACE_ALL_STEPS": "true"}, every_kotaemon_step, kotaemon=True
    ),
    "kotaemon-steps-bad-value": Row(
        "kotaemon_steps_app.py",
        (),
        {"OTEL_KOTAEMON_TRACE_ALL_STEPS": "sometimes"},
        kotaemon_steps_of_known_kinds_only,
        bad=("OTEL_KOTAEMON_TRACE_ALL_STEPS",),
        kotaemon=True,
    ),
    "standard-bad-values-and-patterns": Row(
        "openai_app.py",
        ("sync",),
        {**BAD_STANDARD, CAPTURE: "event_only", "OTEL_KOTAEMON_REDACT_PATTERNS": '["tok-[A-Z]+", "(("]'},
        telemetry_flows_despite_bad_standard_values,
        bad=(*BAD_STANDARD, "OTEL_KOTAEMON_REDACT_PATTERNS"),
    ),
    "attribute-length-default-and-resource-service-name": Row(
        "openai_app.py",
        ("long_prompt",),
        {**LONG_PROMPT, "OTEL_SERVICE_NAME": "", "OTEL_RESOURCE_ATTRIBUTES": "service.name=from-resource"},
        attribute_length_default,
    ),
    "attribute-length-chosen": Row(
        "openai_app.py",
        ("long_prompt",),
        {**LONG_PROMPT, "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "1000"},
        attribute_length_chosen,
    ),
    "ratelimit-bad-argument-and-span-length-limit": Row(
        "openai_app.py",
        ("long_prompt",),
        {
            **LONG_PROMPT,
            "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT": "700",
            "OTEL_TRACES_SAMPLER": "kotaemon_ratelimit",
            "OTEL_TRACES_SAMPLER_ARG": "fast",
        },
        sampled_with_span_length_limit,
        bad=("OTEL_TRACES_SAMPLER_ARG",),
    ),
    "ratio-above-one": Row(
        "openai_app.py",
        ("sync",),
        {"OTEL_TRACES_SAMPLER": "kotaemon_ratio", "OTEL_TRACES_SAMPLER_ARG": "1.5"},
        sampled_at_full_ratio,
        bad=("OTEL_TRACES_SAMPLER_ARG",),
    ),
}


@pytest.mark.parametrize("row", ROWS.values(), ids=ROWS.keys())
def test_setting_takes_effect(row: Row) -> None:
    with OpenAIServer() as server, OtlpReceiver() as receiver:
        args = (server.base_url,) if row.kotaemon else row.args
        env = {**environment(), **row.env} if row.kotaemon else row.env
        result = run_instrumented(row.app, *args, receiver=receiver, base_url=server.base_url, env=env)
        row.check(Run(receiver, server))
    warnings = [line for line in result.stderr.splitlines() if "is not valid (expected" in line]
    for name in row.bad:
        value = row.env[name]
        shown = f"{name} is not valid" if name in SENSITIVE else f"{name}={value!r} is not valid"
        named = [line for line in warnings if line.startswith(shown)]
        assert len(named) == 1, (name, result.stderr)
        if name in SENSITIVE:  # not the value, nor a piece of it
            assert not [part for part in value.split(",") if len(part) > 3 and part in result.stderr], result.stderr
    assert len(warnings) == len(row.bad), warnings
    assert "Traceback" not in result.stderr
