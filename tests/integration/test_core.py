"""The telemetry core under real client calls against the local server: one request counted once, steps nesting."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import openai

from opentelemetry_instrumentation_kotaemon.core.spans import ModelCall, RetrievalStep, WorkflowStep
from opentelemetry_instrumentation_kotaemon.core.telemetry import Telemetry
from opentelemetry_instrumentation_kotaemon.settings import Settings
from tests.conftest import Captured
from tests.support.openai_server import REPLY, OpenAIServer, count_tokens

Instrument = Callable[..., Captured]


def test_inner_call_of_the_same_request_merges_into_the_outer(
    instrument: Instrument, openai_server: OpenAIServer
) -> None:
    captured = instrument()
    outer_layer = Telemetry(Settings(), tracer_provider=captured.tracer_provider)
    client = openai.OpenAI(base_url=openai_server.base_url, api_key="k")
    outer = outer_layer.start_model_call(ModelCall(operation="chat", provider="openai", request_model="gpt-test"))
    assert outer is not None
    token = outer.activate()
    try:
        client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hi"}])
        client.embeddings.create(model="e-1", input="hi")  # another kind of request: its own span
    finally:
        outer.deactivate(token)
    outer.finish()
    spans = {s.name: s for s in captured.spans()}
    assert sorted(spans) == ["chat gpt-test", "embeddings e-1"]
    chat_span = spans["chat gpt-test"]
    assert chat_span.attributes["gen_ai.response.id"] == "chatcmpl-test123"
    assert chat_span.attributes["gen_ai.usage.output_tokens"] == count_tokens(REPLY)
    assert chat_span.attributes["server.address"] == "127.0.0.1"
    assert spans["embeddings e-1"].parent.span_id == chat_span.context.span_id
    chat_points = [
        p for p in captured.points("gen_ai.client.token.usage") if p.attributes["gen_ai.operation.name"] == "chat"
    ]
    # the inner instrumentation recorded nothing of its own: the outer layer's meter is not the reader's
    assert chat_points == []


def _new_telemetry(captured: Captured, **settings_kwargs: Any) -> Telemetry:
    return Telemetry(
        Settings(**settings_kwargs),
        tracer_provider=captured.tracer_provider,
        meter_provider=captured.meter_provider,
    )


def test_steps_nest_repeat_steps_collapse_and_the_root_sums_tokens(
    instrument: Instrument, openai_server: OpenAIServer
) -> None:
    captured = instrument()
    telemetry = _new_telemetry(captured)
    owner = object()
    client = openai.OpenAI(base_url=openai_server.base_url, api_key="k")
    root = telemetry.start_step(WorkflowStep(name="RAG", owner=owner))
    assert root is not None
    outer_token = root.activate()
    repeat = telemetry.start_step(WorkflowStep(name="RAG.run", owner=owner))
    assert repeat is not None and repeat.span is None
    retrieval = telemetry.start_step(RetrievalStep(name="VectorRetrieval"))
    assert retrieval is not None
    token = retrieval.activate()
    retrieval.step.documents = 0
    retrieval.deactivate(token)
    retrieval.finish()
    for _ in range(2):
        client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "one two"}])
    repeat.finish()
    root.deactivate(outer_token)
    root.finish()
    spans = {s.name: s for s in captured.spans()}
    assert set(spans) == {"invoke_workflow RAG", "retrieval VectorRetrieval", "chat gpt-test"}
    workflow = spans["invoke_workflow RAG"]
    assert workflow.attributes["kotaemon.span.kind"] == "pipeline"
    assert workflow.attributes["kotaemon.usage.input_tokens"] == 4
    assert workflow.attributes["kotaemon.usage.output_tokens"] == 2 * count_tokens(REPLY)
    assert spans["retrieval VectorRetrieval"].parent.span_id == workflow.context.span_id
    assert spans["retrieval VectorRetrieval"].attributes["kotaemon.documents.count"] == 0
    assert "kotaemon.usage.input_tokens" not in spans["retrieval VectorRetrieval"].attributes
    assert sum(p.value for p in captured.points("kotaemon.retrieval.empty")) == 1
    assert sum(p.count for p in captured.points("gen_ai.invoke_workflow.duration")) == 1
