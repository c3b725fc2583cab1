"""End to end: an unchanged LangChain app under `opentelemetry-instrument`, telemetry read back over OTLP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.e2e import run_instrumented
from tests.support.openai_server import ASK_STREAM_USAGE, REPLY, TOOL_ARGUMENTS, OpenAIServer, count_tokens
from tests.support.otlp_receiver import OtlpReceiver, Span

CLIENT = 3  # SpanKind.CLIENT in OTLP


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as server:
        yield server


@pytest.fixture(scope="module")
def app_run(server: OpenAIServer) -> Iterator[tuple[OtlpReceiver, str]]:
    with OtlpReceiver() as receiver:
        result = run_instrumented(
            "examples/langchain_app.py", receiver=receiver, base_url=server.base_url, env=ASK_STREAM_USAGE
        )
        yield receiver, result.stderr


@pytest.fixture(scope="module")
def receiver(app_run: tuple[OtlpReceiver, str]) -> OtlpReceiver:
    return app_run[0]


def model_spans(receiver: OtlpReceiver, model: str) -> list[Span]:
    return [s for s in receiver.spans if s.attributes.get("gen_ai.request.model") == model]


def only(spans: list[Span]) -> Span:
    assert len(spans) == 1, [s.name for s in spans]
    return spans[0]


def named(receiver: OtlpReceiver, name: str) -> list[Span]:
    return [s for s in receiver.spans if s.name == name]


def parent(receiver: OtlpReceiver, span: Span) -> Span:
    return only([s for s in receiver.spans if s.span_id == span.parent_id])


def children(receiver: OtlpReceiver, span: Span) -> list[str]:
    return sorted(s.name for s in receiver.spans if s.parent_id == span.span_id)


def test_rag_chain_is_one_tree_with_one_model_span(receiver: OtlpReceiver) -> None:
    chat = only(model_spans(receiver, "m-rag"))  # the OpenAI client call merged into LangChain's model span
    workflow = parent(receiver, chat)
    assert workflow.name == "invoke_workflow RunnableSequence"
    assert workflow.parent_id == ""
    assert workflow.attributes["gen_ai.workflow.name"] == "RunnableSequence"
    assert children(receiver, workflow) == ["chat m-rag", "retrieval FixedRetriever"]
    retrieval = only([s for s in receiver.spans if s.parent_id == workflow.span_id and s.name.startswith("retr")])
    assert retrieval.attributes["kotaemon.documents.count"] == 2
    assert retrieval.attributes["kotaemon.documents.ids"] == ["doc-1", "doc-2"]
    assert "gen_ai.retrieval.documents" not in retrieval.attributes  # content is off by default
    assert chat.kind == CLIENT
    assert chat.attributes["gen_ai.request.temperature"] == pytest.approx(0.1)
    assert chat.attributes["gen_ai.usage.output_tokens"] == count_tokens(REPLY)
    assert chat.attributes["server.address"] == "127.0.0.1"
    assert {s.trace_id for s in (chat, workflow, retrieval)} == {workflow.trace_id}
    assert workflow.attributes["kotaemon.usage.output_tokens"] == count_tokens(REPLY)


def test_agent_with_a_tool(receiver: OtlpReceiver) -> None:
    agent = only(named(receiver, "invoke_agent WeatherAgent"))
    assert agent.parent_id == ""
    assert children(receiver, agent) == ["chat m-agent", "chat m-agent", "execute_tool get_weather"]
    tool = only(named(receiver, "execute_tool get_weather"))
    assert tool.attributes["gen_ai.tool.name"] == "get_weather"
    assert "gen_ai.tool.call.arguments" not in tool.attributes
    first, second = sorted(model_spans(receiver, "m-agent"), key=lambda s: s.start)
    assert first.attributes["gen_ai.response.finish_reasons"] == ["tool_calls"]
    assert first.attributes["gen_ai.usage.output_tokens"] == count_tokens(TOOL_ARGUMENTS)
    assert second.attributes["gen_ai.response.finish_reasons"] == ["stop"]


def test_fallback_from_a_failing_model(receiver: OtlpReceiver) -> None:
    failed = only(model_spans(receiver, "error-500"))
    backup = only(model_spans(receiver, "m-fallback"))
    wrapper = parent(receiver, failed)
    assert parent(receiver, backup).span_id == wrapper.span_id
    assert wrapper.name == "invoke_workflow RunnableWithFallbacks"
    assert failed.is_error and not backup.is_error and not wrapper.is_error
    assert wrapper.attributes["kotaemon.fallback.branch"] == "fallback"
    assert wrapper.attributes["kotaemon.fallback.index"] == 1
    assert wrapper.attributes["kotaemon.fallback.primary_error"] == failed.attributes["error.type"]


def test_stream_and_async_chain(receiver: OtlpReceiver) -> None:
    streamed = only(model_spans(receiver, "m-stream"))
    assert parent(receiver, streamed).name == "invoke_workflow RunnableSequence"
    assert streamed.attributes["gen_ai.request.stream"] is True
    assert streamed.attributes["gen_ai.response.time_to_first_chunk"] > 0
    assert streamed.attributes["gen_ai.usage.output_tokens"] == count_tokens(REPLY)
    asynchronous = only(model_spans(receiver, "m-async"))
    workflow = parent(receiver, asynchronous)
    assert children(receiver, workflow) == ["chat m-async", "retrieval FixedRetriever"]
    assert asynchronous.trace_id == workflow.trace_id


def test_each_server_request_is_one_model_span(receiver: OtlpReceiver, server: OpenAIServer) -> None:
    requested: dict[str, int] = {}
    for path, body, _ in server.requests:
        if path.endswith("/chat/completions"):
            requested[body["model"]] = requested.get(body["model"], 0) + 1
    spans: dict[str, int] = {}
    for span in receiver.spans:
        if span.name.startswith("chat "):
            spans[span.attributes["gen_ai.request.model"]] = spans.get(span.attributes["gen_ai.request.model"], 0) + 1
    assert spans == requested


def _server_usage(server: OpenAIServer) -> dict[str, int]:
    """The tokens the server reported: one per word of every message, and of its answer (not for errors)."""
    usage = {"input": 0, "output": 0}
    for path, body, _ in server.requests:
        if not path.endswith("/chat/completions") or body["model"] == "error-500":
            continue
        messages: list[dict[str, Any]] = body["messages"]
        usage["input"] += sum(count_tokens(m["content"]) for m in messages if isinstance(m.get("content"), str))
        wants_tool = bool(body.get("tools")) and messages[-1]["role"] != "tool"
        usage["output"] += count_tokens(TOOL_ARGUMENTS if wants_tool else REPLY)
    return usage


def test_token_metric_counts_what_the_server_reported_once(receiver: OtlpReceiver, server: OpenAIServer) -> None:
    measured = {"input": 0, "output": 0}
    for point in receiver.points:
        if point.metric == "gen_ai.client.token.usage":
            measured[point.attributes["gen_ai.token.type"]] += int(point.sum)
    assert measured == _server_usage(server)
    assert measured["input"] > 0


def test_no_context_detach_errors(app_run: tuple[OtlpReceiver, str]) -> None:
    assert "Failed to detach context" not in app_run[1]
    assert "Traceback" not in app_run[1]
