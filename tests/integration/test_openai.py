"""In-process details of the OpenAI integration, against the local OpenAI-compatible server."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
from collections.abc import Callable
from typing import Any

import openai
import pytest
from opentelemetry import context, trace
from opentelemetry.trace import StatusCode

from opentelemetry_instrumentation_kotaemon import KotaemonInstrumentor
from opentelemetry_instrumentation_kotaemon.openai import responses
from opentelemetry_instrumentation_kotaemon.openai.extract import OpenAIExtractor
from tests.conftest import Captured
from tests.support.openai_server import ASK_STREAM_USAGE, REPLY, TOOL_ARGUMENTS, OpenAIServer, count_tokens

Instrument = Callable[..., Captured]
MESSAGES = [{"role": "user", "content": "What is the answer?"}]
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
API_KEY = "sk-proj-unitSECRET0123456789abcdefgh"


@pytest.fixture
def client(openai_server: OpenAIServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=openai_server.base_url, api_key=API_KEY, max_retries=2)


@pytest.fixture
def async_client(openai_server: OpenAIServer) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=openai_server.base_url, api_key=API_KEY)


def chat(client: openai.OpenAI, model: str = "gpt-test", **kwargs: Any) -> Any:
    return client.chat.completions.create(model=model, messages=MESSAGES, **kwargs)


def test_request_parameters_map_to_semconv(instrument: Instrument, client: openai.OpenAI) -> None:
    captured = instrument()
    chat(
        client,
        top_p=0.9,
        stop=["END", "STOP"],
        n=2,
        frequency_penalty=0.5,
        presence_penalty=0.25,
        max_completion_tokens=99,
        response_format={"type": "json_object"},
    )
    attributes = captured.span().attributes
    assert attributes["gen_ai.request.top_p"] == 0.9
    assert attributes["gen_ai.request.stop_sequences"] == ("END", "STOP")
    assert attributes["gen_ai.request.choice.count"] == 2
    assert attributes["gen_ai.request.frequency_penalty"] == 0.5
    assert attributes["gen_ai.request.presence_penalty"] == 0.25
    assert attributes["gen_ai.request.max_tokens"] == 99
    assert attributes["gen_ai.output.type"] == "json"
    assert "gen_ai.request.temperature" not in attributes  # not given, not invented


def test_results_and_exceptions_are_untouched(instrument: Instrument, client: openai.OpenAI) -> None:
    plain = chat(client)
    plain_stream = [c.model_dump() for c in chat(client, stream=True)]
    with pytest.raises(openai.InternalServerError) as plain_error:
        chat(client, model="error-500")
    instrument()
    traced = chat(client)
    assert type(traced) is type(plain)
    assert traced.model_dump() == plain.model_dump()
    stream = chat(client, stream=True)
    assert isinstance(stream, openai.Stream)
    assert [c.model_dump() for c in stream] == plain_stream  # our usage request stays invisible
    with pytest.raises(openai.InternalServerError) as traced_error:
        chat(client, model="error-500")
    assert str(traced_error.value) == str(plain_error.value)
    assert traced_error.value.status_code == 500


def test_raw_response_still_works(instrument: Instrument, client: openai.OpenAI) -> None:
    captured = instrument()
    raw = client.chat.completions.with_raw_response.create(model="gpt-test", messages=MESSAGES)
    assert raw.parse().choices[0].message.content == REPLY
    span = captured.span()
    assert span.name == "chat gpt-test"
    assert span.status.status_code is StatusCode.UNSET


def test_usage_chunk_is_shown_when_the_app_asked_for_it(
    instrument: Instrument, client: openai.OpenAI, openai_server: OpenAIServer
) -> None:
    captured = instrument()
    chunks = list(chat(client, stream=True, stream_options={"include_usage": True}))
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == count_tokens(REPLY)
    attributes = captured.span().attributes
    assert attributes["gen_ai.usage.output_tokens"] == count_tokens(REPLY)


def test_usage_request_goes_with_the_apps_extra_body(
    instrument: Instrument, client: openai.OpenAI, openai_server: OpenAIServer
) -> None:
    """Our usage request travels in the extra body, next to the app's own fields, which stay as the app sent them;
    an app whose extra body says what it wants of `stream_options` is left to it."""
    plain = [c.model_dump() for c in chat(client, model="extra-plain", stream=True, extra_body={"user_tag": "a"})]
    captured = instrument(**ASK_STREAM_USAGE)
    extra = {"user_tag": "a"}
    chunks = [c.model_dump() for c in chat(client, model="extra-ours", stream=True, extra_body=extra)]
    asked = [c.model_dump() for c in chat(client, model="extra-own", stream=True, extra_body={"stream_options": None})]
    bodies = {b.get("model"): b for _, b, _ in openai_server.requests}
    assert bodies["extra-ours"]["stream_options"] == {"include_usage": True}
    assert bodies["extra-ours"]["user_tag"] == "a" and extra == {"user_tag": "a"}
    assert [c["choices"] for c in chunks] == [c["choices"] for c in plain]  # the usage chunk stays hidden
    assert bodies["extra-own"]["stream_options"] is None and all(c["choices"] for c in asked)
    by_model = {s.attributes["gen_ai.request.model"]: s.attributes for s in captured.spans()}
    assert by_model["extra-ours"]["gen_ai.usage.output_tokens"] == count_tokens(REPLY)
    assert "gen_ai.usage.output_tokens" not in by_model["extra-own"]


class CountsBuiltChunks:
    """Mixed into a real client: counts the stream chunks it builds into models."""

    built = 0

    def _process_response_data(self, **kwargs: Any) -> Any:
        self.built += 1
        return super()._process_response_data(**kwargs)  # type: ignore[misc]


class CountingClient(CountsBuiltChunks, openai.OpenAI):
    pass


class AsyncCountingClient(CountsBuiltChunks, openai.AsyncOpenAI):
    pass


def test_usage_chunk_we_asked_for_is_never_built_into_a_model(
    instrument: Instrument, openai_server: OpenAIServer
) -> None:
    client = CountingClient(base_url=openai_server.base_url, api_key=API_KEY)
    plain = list(chat(client, stream=True))
    built_plain, client.built = client.built, 0
    captured = instrument(**ASK_STREAM_USAGE)
    stream = chat(client, stream=True)
    assert stream._client.base_url == client.base_url  # read through before the stream starts
    chunks = list(stream)
    assert [c.model_dump() for c in chunks] == [c.model_dump() for c in plain]
    assert all(type(c) is type(plain[0]) for c in chunks)
    assert client.built == built_plain == len(chunks)  # the usage-only chunk came, and was left as decoded
    assert stream._client is client  # the stream's own client is back since its first chunk
    attributes = captured.span().attributes
    assert attributes["gen_ai.usage.output_tokens"] == count_tokens(REPLY)
    assert attributes["gen_ai.usage.input_tokens"] > 0


def test_async_usage_chunk_we_asked_for_is_never_built_into_a_model(
    instrument: Instrument, openai_server: OpenAIServer
) -> None:
    client = AsyncCountingClient(base_url=openai_server.base_url, api_key=API_KEY)
    captured = instrument(**ASK_STREAM_USAGE)

    async def run() -> list[Any]:
        stream = await client.chat.completions.create(model="gpt-test", messages=MESSAGES, stream=True)
        return [chunk async for chunk in stream]

    chunks = asyncio.run(run())
    assert chunks and all(c.choices for c in chunks) and client.built == len(chunks)
    assert captured.span().attributes["gen_ai.usage.output_tokens"] == count_tokens(REPLY)


@pytest.mark.parametrize("wrapper", ["with_raw_response", "with_streaming_response"])
def test_streams_read_through_the_http_response_get_no_usage_request(
    instrument: Instrument, openai_server: OpenAIServer, wrapper: str
) -> None:
    model = f"via-{wrapper}"

    def chunks() -> list[Any]:
        client = openai.OpenAI(base_url=openai_server.base_url, api_key=API_KEY)  # new: the wrappers are cached
        response = getattr(client.chat.completions, wrapper).create(model=model, messages=MESSAGES, stream=True)
        with contextlib.ExitStack() as stack:
            if wrapper == "with_streaming_response":
                response = stack.enter_context(response)
            return [c.model_dump() for c in response.parse()]

    plain = chunks()
    captured = instrument()
    assert chunks() == plain and all(c["choices"] for c in plain)  # no usage-only chunk we could not hide
    sent = [b for _, b, _ in openai_server.requests if b.get("model") == model]
    assert len(sent) == 2 and all("stream_options" not in b for b in sent)
    assert captured.span().name == f"chat {model}"


def test_usage_request_can_be_turned_off(
    instrument: Instrument, client: openai.OpenAI, openai_server: OpenAIServer
) -> None:
    captured = instrument(OTEL_KOTAEMON_OPENAI_STREAM_USAGE="false")
    list(chat(client, model="no-injection", stream=True))
    body = next(b for _, b, _ in reversed(openai_server.requests) if b.get("model") == "no-injection")
    assert "stream_options" not in body
    assert "gen_ai.usage.output_tokens" not in captured.span().attributes


def _helper_events(client: openai.OpenAI) -> tuple[list[str], Any]:
    with client.chat.completions.stream(model="gpt-test", messages=MESSAGES) as stream:
        kinds = [event.type for event in stream]
        return kinds, stream.get_final_completion()


def test_stream_helper_is_one_traced_call_and_sees_the_same_events(
    instrument: Instrument, client: openai.OpenAI
) -> None:
    plain_kinds, plain_final = _helper_events(client)
    captured = instrument(**ASK_STREAM_USAGE)
    kinds, final = _helper_events(client)
    assert kinds == plain_kinds and "content.done" in kinds  # our usage request stays invisible to the helper
    assert final.model_dump() == plain_final.model_dump()
    span = captured.span()
    assert span.name == "chat gpt-test"
    assert span.attributes["gen_ai.request.stream"] is True
    assert span.attributes["gen_ai.usage.output_tokens"] == count_tokens(REPLY)
    assert span.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert "kotaemon.stream.abandoned" not in span.attributes


def test_stream_span_is_not_current_while_the_app_iterates(instrument: Instrument, client: openai.OpenAI) -> None:
    captured = instrument()
    tracer = captured.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("request") as request:
        stream = chat(client, stream=True)
        seen = []
        for _ in stream:
            seen.append(trace.get_current_span())
            with tracer.start_as_current_span("app work per chunk"):
                pass
    assert all(span is request for span in seen)
    spans = {s.name: s for s in captured.spans()}
    assert spans["chat gpt-test"].parent.span_id == request.get_span_context().span_id
    assert spans["app work per chunk"].parent.span_id == request.get_span_context().span_id


def _stream_span(captured: Captured) -> Any:
    spans = [s for s in captured.spans() if s.attributes.get("gen_ai.request.stream")]
    assert len(spans) == 1
    return spans[0]


@pytest.mark.parametrize("leave", ["close", "with", "gc", "exhaust"])
def test_stream_ends_once_however_it_is_left(instrument: Instrument, client: openai.OpenAI, leave: str) -> None:
    captured = instrument()
    if leave == "close":
        stream = chat(client, stream=True)
        next(stream)
        stream.close()
        stream.close()
    elif leave == "with":
        with chat(client, stream=True) as stream:
            next(stream)
    elif leave == "gc":
        stream = chat(client, stream=True)
        next(stream)
        del stream
        gc.collect()
    else:
        with chat(client, stream=True) as stream:
            for _ in stream:
                pass
    span = _stream_span(captured)
    assert span.attributes.get("kotaemon.stream.abandoned", False) is (leave != "exhaust")
    # no finish reason came: the conventions' `error` stands for it
    assert span.attributes["gen_ai.response.finish_reasons"] == (("stop",) if leave == "exhaust" else ("error",))
    assert span.status.status_code is StatusCode.UNSET
    abandoned = sum(p.value for p in captured.points("kotaemon.streams.abandoned"))
    assert abandoned == (0 if leave == "exhaust" else 1)


def test_stream_broken_midway_is_an_error(instrument: Instrument, client: openai.OpenAI) -> None:
    captured = instrument()
    received = []
    with pytest.raises(Exception) as error:
        for chunk in chat(client, model="broken-stream", stream=True):
            received.append(chunk)
    assert len(received) == 2
    span = _stream_span(captured)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == f"{type(error.value).__module__.split('.')[0]}.{type(error.value).__name__}"
    assert span.attributes["kotaemon.stream.chunk_count"] == 2
    assert span.attributes["gen_ai.response.finish_reasons"] == ("error",)


def test_stream_left_early_reports_the_error_finish_reason_in_its_output(
    instrument: Instrument, client: openai.OpenAI
) -> None:
    captured = instrument(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="true")
    stream = chat(client, stream=True, n=2)
    next(stream)
    next(stream)
    stream.close()
    span = _stream_span(captured)
    assert span.attributes["gen_ai.response.finish_reasons"] == ("error", "error")  # one per choice asked for
    (output,) = json.loads(span.attributes["gen_ai.output.messages"])  # the one choice that began
    assert output["finish_reason"] == "error"


def test_streamed_tool_call_is_assembled(instrument: Instrument, client: openai.OpenAI) -> None:
    captured = instrument(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="true")
    list(chat(client, tools=TOOLS, stream=True))
    output = json.loads(_stream_span(captured).attributes["gen_ai.output.messages"])
    assert output == [
        {
            "role": "assistant",
            "parts": [{"type": "tool_call", "id": "call_test1", "name": "get_weather", "arguments": TOOL_ARGUMENTS}],
            "finish_reason": "tool_calls",
        }
    ]


def test_tool_result_messages_are_captured(instrument: Instrument, client: openai.OpenAI) -> None:
    captured = instrument(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="true")
    first = chat(client, tools=TOOLS)
    call = first.choices[0].message.tool_calls[0]
    messages = [*MESSAGES, first.choices[0].message.model_dump(exclude_none=True)]
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "21 degrees"})
    client.chat.completions.create(model="gpt-test", messages=messages, tools=TOOLS)
    second = captured.spans()[-1]
    inputs = json.loads(second.attributes["gen_ai.input.messages"])
    assert inputs[1]["parts"] == [
        {"type": "tool_call", "id": "call_test1", "name": "get_weather", "arguments": TOOL_ARGUMENTS}
    ]
    assert inputs[2] == {
        "role": "tool",
        "parts": [{"type": "tool_call_response", "id": "call_test1", "response": "21 degrees"}],
    }
    assert second.attributes["gen_ai.response.finish_reasons"] == ("stop",)


def test_async_stream_and_context_manager(instrument: Instrument, async_client: openai.AsyncOpenAI) -> None:
    captured = instrument(**ASK_STREAM_USAGE)

    async def run() -> None:
        stream = await async_client.chat.completions.create(model="a-full", messages=MESSAGES, stream=True)
        assert isinstance(stream, openai.AsyncStream)
        async for _ in stream:
            pass
        async with await async_client.chat.completions.create(model="a-left", messages=MESSAGES, stream=True) as left:
            await left.__anext__()
        closed = await async_client.chat.completions.create(model="a-closed", messages=MESSAGES, stream=True)
        await closed.__anext__()
        await closed.close()

    asyncio.run(run())
    spans = {s.attributes["gen_ai.request.model"]: s for s in captured.spans()}
    assert "kotaemon.stream.abandoned" not in spans["a-full"].attributes
    assert spans["a-full"].attributes["gen_ai.usage.output_tokens"] == count_tokens(REPLY)
    assert spans["a-left"].attributes["kotaemon.stream.abandoned"] is True
    assert spans["a-closed"].attributes["kotaemon.stream.abandoned"] is True


def test_async_error_and_retry(instrument: Instrument, async_client: openai.AsyncOpenAI) -> None:
    captured = instrument()

    async def run() -> None:
        await async_client.chat.completions.create(model="flaky-429", messages=MESSAGES)
        with pytest.raises(openai.InternalServerError):
            await async_client.chat.completions.create(model="error-500", messages=MESSAGES)

    asyncio.run(run())
    spans = {s.attributes["gen_ai.request.model"]: s for s in captured.spans()}
    assert spans["flaky-429"].attributes["http.request.resend_count"] == 1
    assert spans["error-500"].status.status_code is StatusCode.ERROR


def test_retries_exhausted_is_one_error_span(instrument: Instrument, openai_server: OpenAIServer) -> None:
    captured = instrument()
    no_retry = openai.OpenAI(base_url=openai_server.base_url, api_key=API_KEY, max_retries=0)
    with pytest.raises(openai.RateLimitError):
        chat(no_retry, model="flaky-429")
    span = captured.span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "openai.RateLimitError"
    assert span.attributes["http.response.status_code"] == 429
    assert "http.request.resend_count" not in span.attributes


def test_legacy_completion_stream(instrument: Instrument, client: openai.OpenAI) -> None:
    captured = instrument(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="true")
    text = "".join(c.choices[0].text for c in client.completions.create(model="c-1", prompt="hi", stream=True))
    span = captured.span()
    assert span.name == "text_completion c-1"
    output = json.loads(span.attributes["gen_ai.output.messages"])
    assert output[0]["parts"][0]["content"] == text
    assert span.attributes["gen_ai.response.finish_reasons"] == ("stop",)


def test_parse_is_traced_once(instrument: Instrument, client: openai.OpenAI) -> None:
    if not hasattr(client.chat.completions, "parse"):
        pytest.skip("this openai release has no chat.completions.parse")
    captured = instrument()
    client.chat.completions.parse(model="gpt-test", messages=MESSAGES)
    assert captured.span().name == "chat gpt-test"


def test_responses_stream(instrument: Instrument, client: openai.OpenAI) -> None:
    captured = instrument(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="true")
    events = list(client.responses.create(model="r-1", input="hello", instructions="be brief", stream=True))
    assert events[-1].type == "response.completed"
    span = captured.span()
    assert span.attributes["gen_ai.response.id"] == "resp_test123"
    assert span.attributes["gen_ai.usage.output_tokens"] == count_tokens(REPLY)
    assert json.loads(span.attributes["gen_ai.system_instructions"]) == [{"type": "text", "content": "be brief"}]
    assert json.loads(span.attributes["gen_ai.output.messages"])[0]["parts"][0]["content"] == REPLY


def test_embeddings_metrics_count_input_tokens_only(instrument: Instrument, client: openai.OpenAI) -> None:
    captured = instrument()
    client.embeddings.create(model="e-1", input="one two three")
    points = captured.points("gen_ai.client.token.usage")
    assert [(dict(p.attributes)["gen_ai.token.type"], p.sum) for p in points] == [("input", 3)]


def test_content_modes(instrument: Instrument, client: openai.OpenAI) -> None:
    captured = instrument(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="EVENT_ONLY")
    chat(client)
    span = captured.span()
    assert "gen_ai.input.messages" not in span.attributes
    (event,) = captured.logs()
    assert json.loads(event.attributes["gen_ai.input.messages"])[0]["parts"][0]["content"] == "What is the answer?"
    assert event.trace_id == span.context.trace_id and event.span_id == span.context.span_id


def test_invalid_content_mode_warns_once_and_captures_nothing(
    instrument: Instrument, client: openai.OpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    captured = instrument(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="everything-please")
    chat(client)
    warnings = [r.getMessage() for r in caplog.records if "OTEL_INSTRUMENTATION_GENAI" in r.getMessage()]
    assert len(warnings) == 1
    assert "'everything-please'" in warnings[0] and "using no_content" in warnings[0]
    assert "gen_ai.input.messages" not in captured.span().attributes
    assert captured.logs() == []


def test_redaction_is_configurable_and_values_are_capped(instrument: Instrument, client: openai.OpenAI) -> None:
    captured = instrument(
        OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="true",
        OTEL_KOTAEMON_REDACT="email",
        OTEL_KOTAEMON_REDACT_PATTERNS='["ACME-[0-9]+"]',
        OTEL_KOTAEMON_CONTENT_MAX_LENGTH="200",
    )
    prompt = "Mail a@b.io about ACME-1234, card 4111 1111 1111 1111. " + "x" * 500
    client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": prompt}])
    value = captured.span().attributes["gen_ai.input.messages"]
    assert "[REDACTED:email]" in value and "[REDACTED]" in value and "ACME-1234" not in value
    assert "4111 1111 1111 1111" in value  # the card rule was not chosen
    assert value.endswith("chars]") and len(value) < 240


def test_error_messages_are_redacted(instrument: Instrument, openai_server: OpenAIServer) -> None:
    captured = instrument()
    leaky = openai.OpenAI(base_url=openai_server.base_url, api_key=API_KEY, max_retries=0)

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise ValueError(f"bad key {API_KEY} for bob@example.com")

    leaky.chat.completions._post = fail  # type: ignore[method-assign]
    with pytest.raises(ValueError):
        chat(leaky)
    span = captured.span()
    exported = span.status.description + repr([e.attributes for e in span.events])
    assert API_KEY not in exported and "bob@example.com" not in exported
    assert span.attributes["error.type"] == "ValueError"


def _explode(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("extractor bug")


def test_broken_response_reading_never_breaks_the_call(
    instrument: Instrument, client: openai.OpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain_stream = [c.model_dump() for c in chat(client, stream=True)]
    monkeypatch.setattr(responses, "read_identity", _explode)
    monkeypatch.setattr(responses, "read_usage", _explode)
    captured = instrument()
    assert chat(client).choices[0].message.content == REPLY
    assert [c.model_dump() for c in chat(client, stream=True)] == plain_stream
    spans = captured.spans()
    assert len(spans) == 2  # the spans still end, without response data
    assert all("gen_ai.response.id" not in s.attributes for s in spans)


def test_broken_request_builder_never_breaks_the_call(
    instrument: Instrument, client: openai.OpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(OpenAIExtractor, "chat_request", _explode)
    captured = instrument()
    assert chat(client).choices[0].message.content == REPLY
    assert len(list(chat(client, stream=True))) == len(REPLY.split()) + 2
    assert captured.spans() == []


def test_suppressed_context_creates_no_span(instrument: Instrument, client: openai.OpenAI) -> None:
    captured = instrument()
    token = context.attach(context.set_value(context._SUPPRESS_INSTRUMENTATION_KEY, True))
    try:
        chat(client)
    finally:
        context.detach(token)
    assert captured.spans() == []


def test_api_key_never_exported(instrument: Instrument, client: openai.OpenAI) -> None:
    captured = instrument(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="span_and_event")
    chat(client)
    list(chat(client, stream=True))
    client.embeddings.create(model="e-1", input="x")
    exported = repr([dict(s.attributes) for s in captured.spans()]) + repr([r.attributes for r in captured.logs()])
    assert "unitSECRET" not in exported


def test_slow_answer_time_to_first_chunk(instrument: Instrument, client: openai.OpenAI) -> None:
    captured = instrument()
    list(client.chat.completions.create(model="slow-40", messages=MESSAGES, stream=True))
    span = captured.span()
    # the server waits 40 ms before its first byte: the first chunk cannot have come sooner
    assert span.attributes["gen_ai.response.time_to_first_chunk"] >= 0.04
    (point,) = captured.points("gen_ai.client.operation.time_to_first_chunk")
    assert point.sum >= 0.04 and point.count == 1


def test_stream_time_per_output_chunk(instrument: Instrument, client: openai.OpenAI) -> None:
    captured = instrument()
    chunks = list(client.chat.completions.create(model="m", messages=MESSAGES, stream=True))
    assert len(chunks) > 2
    (point,) = captured.points("gen_ai.client.operation.time_per_output_chunk")
    (duration,) = captured.points("gen_ai.client.operation.duration")
    assert point.count == 1 and 0 < point.sum < duration.sum


@pytest.mark.parametrize("stream", [False, True])
def test_cache_reads_and_writes(instrument: Instrument, client: openai.OpenAI, stream: bool) -> None:
    captured = instrument(**ASK_STREAM_USAGE)
    response = chat(client, "cached-tier", stream=stream)
    if stream:
        list(response)
    attributes = captured.span().attributes
    assert attributes["gen_ai.usage.cache_read.input_tokens"] == 3
    assert attributes["gen_ai.usage.cache_write.input_tokens"] == 2  # the client keeps it as an extra before 2.x


def test_service_tier_and_fingerprint_on_the_span_and_the_client_metrics(
    instrument: Instrument, client: openai.OpenAI
) -> None:
    captured = instrument()
    chat(client, "cached-tier", service_tier="priority")
    chat(client, service_tier="auto", n=1)
    tiered, default = sorted(captured.spans(), key=lambda s: s.start_time or 0)
    assert tiered.attributes["openai.request.service_tier"] == "priority"
    assert tiered.attributes["openai.response.service_tier"] == "priority"
    assert "openai.request.service_tier" not in default.attributes  # `auto` is the default: not recorded
    assert "gen_ai.request.choice.count" not in default.attributes  # recorded when not 1
    for name in ("gen_ai.client.operation.duration", "gen_ai.client.token.usage"):
        points = captured.points(name)
        assert {p.attributes.get("openai.response.service_tier") for p in points} == {"priority", None}, name
        assert {p.attributes["openai.response.system_fingerprint"] for p in points} == {"fp_test"}, name


def test_azure_client_is_the_azure_openai_provider(instrument: Instrument, openai_server: OpenAIServer) -> None:
    captured = instrument()
    azure = openai.AzureOpenAI(
        api_key="k", api_version="2024-06-01", azure_endpoint=openai_server.base_url.removesuffix("/v1")
    )
    azure.chat.completions.create(model="deployment-1", messages=MESSAGES)
    span = captured.span()
    assert span.attributes["gen_ai.provider.name"] == "azure.ai.openai"
    (point,) = captured.points("gen_ai.client.operation.duration")
    assert point.attributes["gen_ai.provider.name"] == "azure.ai.openai"


def test_calls_in_threads_and_pools_stay_in_the_callers_trace(instrument: Instrument, client: openai.OpenAI) -> None:
    """Not only Kotaemon's threads: an app handing calls to a pool or a thread of its own keeps them in its trace."""
    import contextvars
    import threading
    from concurrent.futures import ThreadPoolExecutor

    captured = instrument()
    tracer = captured.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("request") as request, ThreadPoolExecutor(2) as pool:
        pool.submit(chat, client, "pooled").result()
        # What LangChain's pool does: the work runs in a copy of the submitter's contextvars, left as it is.
        pool.submit(contextvars.copy_context().run, chat, client, "copied").result()
        worker = threading.Thread(target=chat, args=(client, "threaded"))
        worker.start()
        worker.join()
    by_model = {s.attributes["gen_ai.request.model"]: s for s in captured.spans() if s.name.startswith("chat ")}
    assert {s.parent.span_id for s in by_model.values() if s.parent} == {request.get_span_context().span_id}
    assert len(by_model) == 3
    KotaemonInstrumentor().uninstrument()
    assert not hasattr(ThreadPoolExecutor.submit, "__wrapped__")
    assert not hasattr(threading.Thread.start, "__wrapped__")
