"""`OTEL_SEMCONV_STABILITY_OPT_IN`: the same app under each value, its metrics read back over OTLP.

Unset or `gen_ai_latest_experimental`: the merged GenAI conventions' metric names. `gen_ai_next_experimental`: the
names of the changes still open (semantic-conventions-genai #521, #374, #571) instead; `.../dup`: both.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.e2e import run_instrumented
from tests.support.openai_server import OpenAIServer
from tests.support.otlp_receiver import OtlpReceiver

LATEST = {
    "gen_ai.client.operation.duration",
    "gen_ai.client.token.usage",
    "gen_ai.client.operation.time_to_first_chunk",
    "gen_ai.client.operation.time_per_output_chunk",
    "gen_ai.invoke_workflow.duration",
    "gen_ai.invoke_agent.duration",
}
EMBEDDINGS = {"gen_ai.client.operation.duration", "gen_ai.client.token.usage"}
"""What embeddings calls record under every value: none of the open changes renames their metrics."""
NEXT = EMBEDDINGS | {
    "gen_ai.client.inference.duration",
    "gen_ai.client.inference.time_to_first_chunk",
    "gen_ai.client.inference.time_per_output_chunk",
    "gen_ai.client.inference.usage.input_tokens",
    "gen_ai.client.inference.usage.output_tokens",
    "gen_ai.client.inference.usage.cache_read.input_tokens",
    "gen_ai.client.inference.usage.cache_write.input_tokens",
    "gen_ai.client.inference.operation.input_tokens",
    "gen_ai.client.inference.operation.output_tokens",
    "gen_ai.invocation.duration",
}
VALUES = {
    None: LATEST,
    "gen_ai_latest_experimental": LATEST,
    "gen_ai_next_experimental": NEXT,
    "http,gen_ai_next_experimental/dup": LATEST | NEXT,
}


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as server:
        yield server


def run(value: str | None, receiver: OtlpReceiver, server: OpenAIServer) -> dict[str, list[dict[str, object]]]:
    """The app run under `value`; the attributes of its GenAI data points, by metric name."""
    receiver.clear()
    env = {"OTEL_SEMCONV_STABILITY_OPT_IN": value} if value is not None else {}
    result = run_instrumented("conventions_app.py", receiver=receiver, env=env, base_url=server.base_url)
    assert "app done" in result.stdout
    points: dict[str, list[dict[str, object]]] = {}
    for point in receiver.wait_for_points("gen_ai.client.operation.duration"):
        assert point.resource["service.name"] == "e2e-app"
    for point in receiver.points:
        if point.metric.startswith("gen_ai."):
            points.setdefault(point.metric, []).append(point.attributes)
    return points


@pytest.mark.parametrize("value", list(VALUES), ids=lambda value: value or "unset")
def test_each_value_gives_its_metric_names(value: str | None, receiver: OtlpReceiver, server: OpenAIServer) -> None:
    points = run(value, receiver, server)
    assert set(points) == VALUES[value]
    chat = [p for p in points["gen_ai.client.operation.duration"] if p["gen_ai.operation.name"] == "chat"]
    assert len(chat) == (3 if VALUES[value] >= LATEST else 0)  # cached-tier, m-stream, the agent's m-agent
    if "gen_ai.client.inference.duration" not in points:
        return
    assert {p["gen_ai.request.model"] for p in points["gen_ai.client.inference.duration"]} == {
        "cached-tier",
        "m-stream",
        "m-agent",
    }
    for name in ("input_tokens", "output_tokens", "cache_read.input_tokens", "cache_write.input_tokens"):
        for attributes in points[f"gen_ai.client.inference.usage.{name}"]:
            assert attributes["gen_ai.token.modality"] == "unknown"
    cached = {p["gen_ai.request.model"] for p in points["gen_ai.client.inference.usage.cache_read.input_tokens"]}
    assert cached == {"cached-tier"}
    invocations = {
        (p["gen_ai.operation.name"], p.get("gen_ai.workflow.name") or p.get("gen_ai.agent.name")): p[
            "gen_ai.invocation.is_nested"
        ]
        for p in points["gen_ai.invocation.duration"]
    }
    assert invocations == {("invoke_workflow", "RunnableSequence"): False, ("invoke_agent", "ResearchAgent"): True}
