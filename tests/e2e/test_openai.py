"""End to end: an unchanged OpenAI app under `opentelemetry-instrument`, telemetry read back over OTLP."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes

from opentelemetry_instrumentation_kotaemon.core.instruments import DURATION_BUCKETS, TOKEN_BUCKETS
from opentelemetry_instrumentation_kotaemon.version import __version__
from tests.support.e2e import FAKE_API_KEY, run_instrumented
from tests.support.openai_server import ASK_STREAM_USAGE, REPLY, TOOL_ARGUMENTS, OpenAIServer, count_tokens
from tests.support.otlp_receiver import OtlpReceiver, Span

CLIENT = 3
PROMPT = "What is the answer?"  # what tests/apps/openai_app.py asks  # SpanKind.CLIENT in OTLP


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as server:
        yield server


@pytest.fixture(scope="module")
def default_run(server: OpenAIServer) -> Iterator[OtlpReceiver]:
    """Every scenario once, with default settings (content off), streams asked for their usage as on api.openai.com."""
    with OtlpReceiver() as receiver:
        run_instrumented("openai_app.py", receiver=receiver, base_url=server.base_url, env=ASK_STREAM_USAGE)
        yield receiver


def by_model(receiver: OtlpReceiver, model: str) -> list[Span]:
    return [s for s in receiver.spans if s.attributes.get("gen_ai.request.model") == model]


def one(receiver: OtlpReceiver, model: str) -> Span:
    spans = by_model(receiver, model)
    assert len(spans) == 1, [s.name for s in spans]
    return spans[0]


def test_resource_scope_and_distro_defaults(default_run: OtlpReceiver) -> None:
    span = one(default_run, "m-sync")
    assert span.resource["service.name"] == "e2e-app"
    assert span.scope == "opentelemetry_instrumentation_kotaemon"
    # exported over OTLP/HTTP without the app or the user choosing an exporter: our distro's defaults
    assert default_run.points, "no metrics arrived"
    # the distro that set up the SDK, on every signal's resource
    for resource in (span.resource, *(point.resource for point in default_run.points)):
        assert resource["telemetry.distro.name"] == "opentelemetry-instrumentation-kotaemon"
        assert resource["telemetry.distro.version"] == __version__


def test_sync_chat(default_run: OtlpReceiver) -> None:
    span = one(default_run, "m-sync")
    prompt_tokens = count_tokens(PROMPT)
    assert span.name == "chat m-sync"
    assert span.kind == CLIENT
    assert span.status_code == 0
    assert span.attributes["gen_ai.operation.name"] == "chat"
    assert span.attributes["gen_ai.provider.name"] == "openai"
    if hasattr(gen_ai_attributes, "GEN_AI_PROVIDER_NAME"):  # these conventions deprecate gen_ai.system
        assert "gen_ai.system" not in span.attributes
    else:  # the floor's conventions name the provider only so
        assert span.attributes["gen_ai.system"] == "openai"
    assert span.attributes["gen_ai.request.temperature"] == pytest.approx(0.3)
    assert span.attributes["gen_ai.request.max_tokens"] == 64
    assert span.attributes["gen_ai.request.seed"] == 7
    assert span.attributes["gen_ai.response.id"] == "chatcmpl-test123"
    assert span.attributes["gen_ai.response.model"] == "m-sync-2024-01-01"
    assert span.attributes["gen_ai.response.finish_reasons"] == ["stop"]
    assert span.attributes["gen_ai.usage.input_tokens"] == prompt_tokens
    assert span.attributes["gen_ai.usage.output_tokens"] == count_tokens(REPLY)
    assert span.attributes["server.address"] == "127.0.0.1"
    assert isinstance(span.attributes["server.port"], int)
    assert "gen_ai.input.messages" not in span.attributes  # content is off by default


def test_stream_fully_read_gets_usage_the_app_did_not_ask_for(server: OpenAIServer, default_run: OtlpReceiver) -> None:
    span = one(default_run, "m-stream-full")
    assert span.attributes["gen_ai.request.stream"] is True
    assert span.attributes["gen_ai.usage.output_tokens"] == count_tokens(REPLY)
    sent = [body for _path, body, _headers in server.requests if body.get("model") == "m-stream-full"]
    assert [body.get("stream_options") for body in sent] == [{"include_usage": True}]
    # (the app itself checks that every chunk it received is a ChatCompletionChunk with choices)
    assert "kotaemon.stream.abandoned" not in span.attributes
    assert "kotaemon.stream.chunk_count" not in span.attributes  # set only on streams left early or failed
    assert span.attributes["gen_ai.response.time_to_first_chunk"] > 0
    assert span.attributes["gen_ai.response.finish_reasons"] == ["stop"]


def test_stream_read_through_the_http_response_is_traced_without_a_usage_request(
    server: OpenAIServer, default_run: OtlpReceiver
) -> None:
    span = one(default_run, "m-stream-raw")  # the app checked that no usage-only chunk reached it
    assert span.name == "chat m-stream-raw" and span.status_code == 0
    sent = [body for _path, body, _headers in server.requests if body.get("model") == "m-stream-raw"]
    assert len(sent) == 1 and "stream_options" not in sent[0]


@pytest.mark.parametrize("model", ["m-stream-abandoned", "m-stream-with"])
def test_stream_left_early_is_ended_and_marked(default_run: OtlpReceiver, model: str) -> None:
    span = one(default_run, model)
    assert span.attributes["kotaemon.stream.abandoned"] is True
    assert span.attributes["kotaemon.stream.chunk_count"] == 1
    assert span.attributes["gen_ai.response.finish_reasons"] == ["error"]  # the conventions' value when none came
    assert span.status_code == 0
    assert span.end >= span.start


def test_embeddings(default_run: OtlpReceiver) -> None:
    span = one(default_run, "m-embed")
    assert span.name == "embeddings m-embed"
    assert span.attributes["gen_ai.operation.name"] == "embeddings"
    assert span.attributes["gen_ai.usage.input_tokens"] == 3
    assert span.attributes["gen_ai.embeddings.dimension.count"] == 8


def test_tool_calls_without_content(default_run: OtlpReceiver) -> None:
    for model in ("m-tool", "m-tool-stream"):
        span = one(default_run, model)
        assert span.attributes["gen_ai.response.finish_reasons"] == ["tool_calls"]
        assert "gen_ai.tool.definitions" not in span.attributes
        assert "gen_ai.output.messages" not in span.attributes


def test_server_error_is_one_error_span(default_run: OtlpReceiver) -> None:
    span = one(default_run, "error-500")
    assert span.status_code == 2
    assert span.attributes["error.type"] == "openai.InternalServerError"
    assert span.attributes["http.response.status_code"] == 500
    assert [name for name, _ in span.events] == ["exception"]


def test_retry_is_one_span_with_the_retry_count(default_run: OtlpReceiver) -> None:
    span = one(default_run, "flaky-429")
    assert span.status_code == 0
    assert span.attributes["http.request.resend_count"] == 1


def test_responses_api(default_run: OtlpReceiver) -> None:
    span = one(default_run, "m-responses")
    assert span.attributes["gen_ai.response.id"] == "resp_test123"
    assert span.attributes["gen_ai.usage.output_tokens"] == count_tokens(REPLY)


def test_async_calls_each_in_their_own_trace(default_run: OtlpReceiver) -> None:
    one(default_run, "m-async")
    stream = one(default_run, "m-async-stream")
    assert stream.attributes["gen_ai.usage.output_tokens"] == count_tokens(REPLY)
    concurrent = by_model(default_run, "m-concurrent")
    assert len(concurrent) == 5
    assert len({s.trace_id for s in concurrent}) == 5
    assert all(s.parent_id == "" for s in concurrent)


def test_every_span_is_a_root_and_the_api_key_never_leaves(default_run: OtlpReceiver) -> None:
    assert default_run.spans and all(s.parent_id == "" for s in default_run.spans)
    exported = repr(default_run.spans) + repr(default_run.points) + repr(default_run.logs)
    assert FAKE_API_KEY not in exported
    assert "e2eSECRET" not in exported


def _points(receiver: OtlpReceiver, metric: str, **match: object) -> list:
    return [
        p for p in receiver.points if p.metric == metric and all(p.attributes.get(k) == v for k, v in match.items())
    ]


def test_metrics(default_run: OtlpReceiver) -> None:
    (duration,) = _points(default_run, "gen_ai.client.operation.duration", **{"gen_ai.request.model": "m-sync"})
    assert duration.unit == "s" and duration.count == 1
    assert duration.bounds == list(DURATION_BUCKETS)  # seconds, on every SDK version
    assert duration.attributes["gen_ai.operation.name"] == "chat"
    assert duration.attributes["server.address"] == "127.0.0.1"
    tokens = _points(default_run, "gen_ai.client.token.usage", **{"gen_ai.request.model": "m-stream-full"})
    assert all(p.bounds == list(TOKEN_BUCKETS) for p in tokens)
    assert {p.attributes["gen_ai.token.type"]: p.sum for p in tokens} == {
        "input": count_tokens(PROMPT),
        "output": count_tokens(REPLY),
    }
    (errors,) = _points(default_run, "gen_ai.client.operation.duration", **{"error.type": "openai.InternalServerError"})
    assert errors.count == 1
    (first_chunk,) = _points(
        default_run,
        "gen_ai.client.operation.time_to_first_chunk",
        **{"gen_ai.request.model": "m-stream-full"},
    )
    assert first_chunk.count == 1
    abandoned = _points(default_run, "kotaemon.streams.abandoned")
    assert sum(p.value for p in abandoned) == 2
    concurrent = _points(default_run, "gen_ai.client.operation.duration", **{"gen_ai.request.model": "m-concurrent"})
    assert sum(p.count for p in concurrent) == 5


def test_content_on_is_redacted_everywhere(server: OpenAIServer) -> None:
    with OtlpReceiver() as receiver:
        run_instrumented(
            "openai_app.py",
            "tool_call",
            receiver=receiver,
            base_url=server.base_url,
            env={"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "span_and_event"},
        )
        spans = receiver.wait_for_spans(2)
    streamed = next(s for s in spans if s.attributes["gen_ai.request.model"] == "m-tool-stream")
    messages = json.loads(streamed.attributes["gen_ai.input.messages"])
    text = messages[0]["parts"][0]["content"]
    for secret in (
        "4111 1111 1111 1111",
        "jane.doe@example.com",
        "415-555-2671",
        "sk-live-abcdefghijklmnopqrstuvwx",
    ):
        assert secret not in text
    assert "[REDACTED:card]" in text and "[REDACTED:email]" in text and "[REDACTED:phone]" in text
    assert "[REDACTED:api_key]" in text
    output = json.loads(streamed.attributes["gen_ai.output.messages"])
    assert output[0]["parts"] == [
        {"type": "tool_call", "id": "call_test1", "name": "get_weather", "arguments": TOOL_ARGUMENTS}
    ]
    assert json.loads(streamed.attributes["gen_ai.tool.definitions"])[0]["function"]["name"] == "get_weather"
    events = [r for r in receiver.logs if r.event_name == "gen_ai.client.inference.operation.details"]
    assert len(events) == 2
    assert {r.span_id for r in events} == {s.span_id for s in spans}
    exported = repr(receiver.spans) + repr(receiver.logs)
    assert "jane.doe@example.com" not in exported and "4111 1111 1111 1111" not in exported


def test_disabled_by_the_standard_variable(server: OpenAIServer) -> None:
    with OtlpReceiver() as receiver:
        run_instrumented(
            "openai_app.py",
            "sync",
            receiver=receiver,
            base_url=server.base_url,
            env={"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "kotaemon"},
        )
        assert receiver.spans == []
