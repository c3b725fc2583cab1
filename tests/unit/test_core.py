"""The telemetry core in process: count-once rule, redaction, settings, error names; extractors never raise (the
same core under real client calls: tests/integration/test_core.py)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON

from opentelemetry_instrumentation_kotaemon.core.redaction import RULE_NAMES, Redactor
from opentelemetry_instrumentation_kotaemon.core.spans import (
    AgentStep,
    ModelCall,
    RetrievalStep,
    ToolStep,
    WorkflowStep,
)
from opentelemetry_instrumentation_kotaemon.core.streams import trace_async_generator, trace_generator
from opentelemetry_instrumentation_kotaemon.core.telemetry import Telemetry, error_type
from opentelemetry_instrumentation_kotaemon.openai.extract import OpenAIExtractor
from opentelemetry_instrumentation_kotaemon.openai.streams import (
    ChatStreamHandler,
    CompletionStreamHandler,
    ResponseStreamHandler,
)
from opentelemetry_instrumentation_kotaemon.settings import ContentMode, GenAiConventions, Settings
from tests.conftest import Captured

Instrument = Callable[..., Captured]


# --- one request, counted once


def test_finish_is_idempotent_and_never_raises(instrument: Instrument) -> None:
    captured = instrument()
    telemetry = Telemetry(Settings(), tracer_provider=captured.tracer_provider)
    scope = telemetry.start_model_call(ModelCall(operation="chat", provider="openai"))
    assert scope is not None
    scope.call.input_tokens = "not a number"  # type: ignore[assignment]
    scope.finish()
    scope.finish(RuntimeError("late"))
    (span,) = captured.spans()
    assert span.name == "chat"
    assert span.status.is_unset


# --- error names


class PoolTimeout(Exception):
    pass


PoolTimeout.__module__ = "pkg._internal.errors"


@pytest.mark.parametrize(
    ("error", "name"),
    [
        (ValueError("x"), "ValueError"),
        (PoolTimeout(), "pkg.errors.PoolTimeout"),
        (TimeoutError(), "TimeoutError"),
    ],
)
def test_error_type_is_the_public_dotted_name(error: BaseException, name: str) -> None:
    assert error_type(error) == name


# --- redaction


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("key sk-proj-abcdefghijklmnop1234 here", "api_key"),
        ("AKIAABCDEFGHIJKLMNOP", "api_key"),
        ("Authorization: Bearer abc.def-ghi", "bearer"),
        ("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abc", "bearer"),
        ("password=hunter2", "credentials"),
        ("postgres://admin:s3cret@db.internal/app", "credentials"),
        ("mail bob.smith@example.co.uk", "email"),
        ("card 4111-1111-1111-1111", "card"),
        ("card 5500005555555559", "card"),
        ("call +1 (415) 555-2671", "phone"),
        ("call 415.555.2671", "phone"),
        ("call +4930123456789", "phone"),
        ("手机 13812345678", "phone"),
    ],
)
def test_each_rule_redacts(text: str, rule: str) -> None:
    cleaned = Redactor()(text)
    assert f"[REDACTED:{rule}]" in cleaned


@pytest.mark.parametrize(
    "text",
    [
        "chatcmpl-AbC123xyz",
        "550e8400-e29b-41d4-a716-446655440000",
        "doc-12345678901234",
        "1234567890123",  # 13 digits that fail the Luhn check
        "192.168.100.200",
        "2024-11-22T10:00:00",
        "v1.109.1",
        "resp_68b2f0a1c9e08190",
        "order 12345678",
        "price 1,299.00",
    ],
)
def test_ids_and_ordinary_numbers_are_left_alone(text: str) -> None:
    assert Redactor()(text) == text


def test_rules_can_be_chosen() -> None:
    assert Redactor(["email"])("a@b.io 4111 1111 1111 1111") == "[REDACTED:email] 4111 1111 1111 1111"
    assert not Redactor([]).active
    assert set(RULE_NAMES) == {"credentials", "bearer", "api_key", "email", "card", "phone"}


# --- settings

LATEST, NEXT, BOTH = GenAiConventions.LATEST, GenAiConventions.NEXT, GenAiConventions.BOTH


@pytest.mark.parametrize(
    ("env", "field", "expected"),
    [
        ({"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "TRUE"}, "content_mode", ContentMode.SPAN),
        (
            {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "span_and_event"},
            "content_mode",
            ContentMode.SPAN_AND_EVENT,
        ),
        ({"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "false"}, "content_mode", ContentMode.NONE),
        ({"OTEL_KOTAEMON_REDACT": "none"}, "redact", ()),
        ({"OTEL_KOTAEMON_REDACT": "email, phone"}, "redact", ("email", "phone")),
        ({"OTEL_KOTAEMON_CONTENT_MAX_LENGTH": "500"}, "content_max_length", 500),
        ({"OTEL_KOTAEMON_OPENAI_STREAM_USAGE": "off"}, "openai_stream_usage", False),
        ({"OTEL_KOTAEMON_INSTRUMENT": "none"}, "instrument", ()),
        ({"OTEL_SEMCONV_STABILITY_OPT_IN": "gen_ai_latest_experimental"}, "gen_ai_conventions", LATEST),
        ({"OTEL_SEMCONV_STABILITY_OPT_IN": "http, gen_ai_next_experimental"}, "gen_ai_conventions", NEXT),
        (
            {"OTEL_SEMCONV_STABILITY_OPT_IN": "gen_ai_next_experimental,gen_ai_next_experimental/dup"},
            "gen_ai_conventions",
            BOTH,
        ),
        ({"OTEL_SEMCONV_STABILITY_OPT_IN": "database/dup,messaging"}, "gen_ai_conventions", LATEST),
    ],
)
def test_settings_read_good_values_silently(
    env: dict[str, str], field: str, expected: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    assert getattr(Settings.from_env(env), field) == expected
    assert caplog.records == []


@pytest.mark.parametrize(
    ("name", "value", "field", "fallback", "said"),
    [
        ("OTEL_KOTAEMON_CONTENT_MAX_LENGTH", "lots", "content_max_length", 8192, "using 8192"),
        ("OTEL_KOTAEMON_CONTENT_MAX_LENGTH", "-5", "content_max_length", 8192, "using 8192"),
        ("OTEL_KOTAEMON_OPENAI_STREAM_USAGE", "maybe", "openai_stream_usage", True, "using true"),
        ("OTEL_KOTAEMON_REDACT", "email,ssn", "redact", ("email",), "using email"),
        ("OTEL_KOTAEMON_REDACT_PATTERNS", "ACME-[0-9]+", "redact_patterns", (), "using no extra patterns"),
        ("OTEL_KOTAEMON_INSTRUMENT", "openai,cohere", "instrument", ("openai",), "using openai"),
        ("OTEL_SEMCONV_STABILITY_OPT_IN", "http,gen_ai_next", "gen_ai_conventions", LATEST, "using gen_ai_latest"),
    ],
)
def test_bad_values_warn_once_with_the_fallback(
    name: str, value: str, field: str, fallback: Any, said: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    assert getattr(Settings.from_env({name: value}), field) == fallback
    assert getattr(Settings.from_env({name: value}), field) == fallback
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1, messages
    assert name in messages[0] and repr(value) in messages[0] and said in messages[0]


def test_bad_pattern_in_the_list_is_skipped(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    patterns = Settings.from_env({"OTEL_KOTAEMON_REDACT_PATTERNS": '["ok-[0-9]+", "bad(("]'}).redact_patterns
    assert [p.pattern for p in patterns] == ["ok-[0-9]+"]
    assert "bad((" in caplog.records[0].getMessage()


# --- extractors never raise, whatever a server or an app hands them

_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(),
    st.binary(max_size=8),
)
_shape = st.recursive(
    _leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.sampled_from(
                [
                    "id",
                    "model",
                    "choices",
                    "usage",
                    "delta",
                    "message",
                    "content",
                    "tool_calls",
                    "function",
                    "finish_reason",
                    "index",
                    "type",
                    "response",
                    "output",
                    "data",
                    "embedding",
                    "text",
                    "role",
                    "prompt_tokens",
                    "completion_tokens",
                    "input_tokens",
                    "arguments",
                    "name",
                    "status",
                ]
            ),
            inner,
            max_size=6,
        ),
    ),
    max_leaves=20,
)


def _as_object(value: Any) -> Any:
    if isinstance(value, dict):
        return SimpleNamespace(**{k: _as_object(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_as_object(v) for v in value]
    return value


_telemetry = Telemetry(Settings(content_mode=ContentMode.SPAN_AND_EVENT))
_extractor = OpenAIExtractor(_telemetry)
_instance = SimpleNamespace(_client=SimpleNamespace(base_url=None))


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    kwargs=st.dictionaries(
        st.sampled_from(
            [
                "model",
                "messages",
                "prompt",
                "input",
                "tools",
                "temperature",
                "stop",
                "stream",
                "n",
                "response_format",
                "max_tokens",
                "stream_options",
                "instructions",
                "encoding_format",
                "dimensions",
            ]
        ),
        _shape,
        max_size=8,
    ),
    result=_shape,
    as_object=st.booleans(),
)
def test_extractors_never_raise(kwargs: dict[str, Any], result: Any, as_object: bool) -> None:
    response = _as_object(result) if as_object else result
    for build, read in (
        (_extractor.chat_request, _extractor.chat_result),
        (_extractor.completion_request, _extractor.completion_result),
        (_extractor.embeddings_request, _extractor.embeddings_result),
        (_extractor.responses_request, _extractor.responses_result),
    ):
        call, _ = build(_instance, (), kwargs)
        read(call, response)
        _telemetry.content.to_json(call.input_messages)
        _assert_valid_attributes(call.request_attributes() | call.end_attributes(failed=True))
    for handler in (
        ChatStreamHandler(ModelCall("chat", "openai", stream_usage_requested=True), True),
        CompletionStreamHandler(ModelCall("text_completion", "openai"), True),
        ResponseStreamHandler(ModelCall("chat", "openai"), True),
    ):
        assert handler.on_chunk(response) in (True, False)
        handler.on_end()
        _assert_valid_attributes(handler.call.end_attributes(failed=True))


def _assert_valid_attributes(values: dict[str, Any]) -> None:
    scalar = (str, bool, int, float)
    for key, value in values.items():
        if isinstance(value, (list, tuple)):
            assert len({type(v) for v in value}) <= 1 and all(isinstance(v, scalar) for v in value), (
                key,
                value,
            )
        else:
            assert isinstance(value, scalar), (key, value)


# --- steps, token roll-up and generators


def _new_telemetry(captured: Captured, **settings_kwargs: Any) -> Telemetry:
    return Telemetry(
        Settings(**settings_kwargs),
        tracer_provider=captured.tracer_provider,
        meter_provider=captured.meter_provider,
    )


def test_failure_reported_as_a_value_is_an_error(instrument: Instrument) -> None:
    captured = instrument()
    telemetry = _new_telemetry(captured)
    scope = telemetry.start_step(AgentStep(name="Rewoo"))
    assert scope is not None
    scope.step.failure = "tool crashed for bob@example.com"
    scope.finish()
    (span,) = captured.spans()
    assert span.status.status_code.name == "ERROR"
    assert span.attributes["error.type"] == "failed"
    assert "bob@example.com" not in span.attributes["kotaemon.step.failure"]
    (errors,) = captured.points("kotaemon.errors")
    assert dict(errors.attributes) == {"kotaemon.span.kind": "agent", "error.type": "failed"}


def test_step_content_only_when_captured(instrument: Instrument) -> None:
    captured = instrument()
    for mode in (ContentMode.NONE, ContentMode.SPAN):
        telemetry = _new_telemetry(captured, content_mode=mode)
        scope = telemetry.start_step(ToolStep(name="search", arguments={"q": "mail a@b.io"}))
        assert scope is not None
        scope.step.result = "found a@b.io"
        scope.finish()
    off, on = captured.spans()
    assert "gen_ai.tool.call.arguments" not in off.attributes
    assert on.attributes["gen_ai.tool.call.arguments"] == '{"q":"mail [REDACTED:email]"}'
    assert on.attributes["gen_ai.tool.call.result"] == "found [REDACTED:email]"
    calls = captured.points("gen_ai.execute_tool.duration")
    assert sum(p.count for p in calls) == 2 and calls[0].attributes["gen_ai.tool.name"] == "search"


class _CountingReader:
    """Reads documents shaped `(id, score, text)`, counting the reads."""

    def __init__(self) -> None:
        self.reads = 0

    def id(self, document: Any) -> str | None:
        self.reads += 1
        return str(document[0])

    def score(self, document: Any) -> float | None:
        return float(document[1])

    def text(self, document: Any) -> str | None:
        return str(document[2])


def test_documents_are_read_only_when_the_span_records(instrument: Instrument) -> None:
    captured = instrument()
    reader = _CountingReader()
    for sampler in (ALWAYS_OFF, ALWAYS_ON):
        provider = TracerProvider(sampler=sampler)
        provider.add_span_processor(SimpleSpanProcessor(captured.spans_exporter))
        settings = Settings(content_mode=ContentMode.SPAN)
        telemetry = Telemetry(settings, tracer_provider=provider, meter_provider=captured.meter_provider)
        scope = telemetry.start_step(RetrievalStep(name="search"))
        assert scope is not None
        scope.step.documents, scope.step.returned, scope.step.reader = 2, [("a", 0.5, "A"), ("b", 1, "B")], reader
        scope.finish()
        assert reader.reads == (0 if sampler is ALWAYS_OFF else 2)  # read once, for the ids, scores and content
    (span,) = captured.spans()
    assert span.attributes["kotaemon.documents.ids"] == ("a", "b")
    assert span.attributes["gen_ai.retrieval.documents"] == (
        '[{"id":"a","score":0.5,"content":"A"},{"id":"b","score":1.0,"content":"B"}]'
    )
    assert sum(p.sum for p in captured.points("kotaemon.retrieval.documents")) == 4  # counted either way


def _numbers() -> Any:
    total = 0
    try:
        while True:
            received = yield total
            total += received or 1
    except KeyError:
        yield "recovered"
    return f"total={total}"


def test_generator_wrapper_keeps_send_throw_and_return_value(instrument: Instrument) -> None:
    captured = instrument()
    telemetry = _new_telemetry(captured)
    scope = telemetry.start_step(WorkflowStep(name="gen", nested=True))
    assert scope is not None
    seen: list[Any] = []
    traced = trace_generator(_numbers(), scope, seen.append)
    assert next(traced) == 0
    assert traced.send(5) == 5
    assert traced.throw(KeyError("x")) == "recovered"
    with pytest.raises(StopIteration) as stop:
        next(traced)
    assert stop.value.value == "total=5"
    assert seen == [0, 5, "recovered"]

    def outer() -> Any:
        result = yield from trace_generator(_numbers(), telemetry.start_step(WorkflowStep(name="y", nested=True)))
        return result

    runner = outer()
    next(runner)
    runner.close()  # abandoned early
    spans = captured.spans()
    assert [s.name for s in spans] == ["gen", "y"]
    assert all(s.status.is_unset for s in spans)
    assert "kotaemon.stream.abandoned" not in spans[0].attributes
    assert spans[1].attributes["kotaemon.stream.abandoned"] is True  # closed before its end


def test_async_generator_wrapper(instrument: Instrument) -> None:
    captured = instrument()
    telemetry = _new_telemetry(captured)

    async def numbers() -> Any:
        for i in range(3):
            yield i

    async def run() -> list[int]:
        scope = telemetry.start_step(WorkflowStep(name="agen", nested=True))
        return [i async for i in trace_async_generator(numbers(), scope)]

    assert asyncio.run(run()) == [0, 1, 2]
    assert [s.name for s in captured.spans()] == ["agen"]
