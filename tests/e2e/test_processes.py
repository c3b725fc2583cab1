"""Apps that work in child processes keep exporting from them (see docs/operations.md: Processes and threads)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.e2e import run_instrumented
from tests.support.openai_server import OpenAIServer
from tests.support.otlp_receiver import OtlpReceiver


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as server:
        yield server


@pytest.mark.parametrize("flush", ["0", "1"])
def test_forked_and_spawned_children_export(server: OpenAIServer, flush: str) -> None:
    with OtlpReceiver() as receiver:
        run_instrumented("fork_app.py", receiver=receiver, base_url=server.base_url, env={"FLUSH_IN_WORKERS": flush})
        models = sorted(s.attributes["gen_ai.request.model"] for s in receiver.spans)
    expected = ["m-forked", "m-mp-spawn", "m-parent"]
    if flush == "1":
        expected = sorted([*expected, "m-mp-fork"])
    assert models == expected  # without a flush, the fork-started worker's span is lost (os._exit)


@pytest.mark.parametrize("yours", ["", "replica-7"], ids=["generated", "set by the user"])
def test_every_process_and_forked_child_exports_its_own_instance_id(server: OpenAIServer, yours: str) -> None:
    # on SDK 1.27 every process exported without service.instance.id, so a backend merged their counters
    env = {"FLUSH_IN_WORKERS": "1", "OTEL_METRIC_EXPORT_INTERVAL": "60000"}
    if yours:
        env["OTEL_RESOURCE_ATTRIBUTES"] = f"service.instance.id={yours},deployment.environment=test"
    with OtlpReceiver() as receiver:
        run_instrumented("fork_app.py", receiver=receiver, base_url=server.base_url, env=env)
        spans = {s.attributes["gen_ai.request.model"]: s.resource for s in receiver.spans}
        points = [p for p in receiver.points if p.metric == "gen_ai.client.operation.duration"]
    ids = {model: resource.get("service.instance.id") for model, resource in spans.items()}
    assert sorted(ids) == ["m-forked", "m-mp-fork", "m-mp-spawn", "m-parent"]
    if yours:
        assert set(ids.values()) == {yours}  # yours wins, in every child too
        assert {r["deployment.environment"] for r in spans.values()} == {"test"}
    else:
        assert len(set(ids.values())) == 4 and None not in ids.values(), ids
    # the metrics of each process carry the same id as its spans
    by_model = {p.attributes["gen_ai.request.model"]: p.resource.get("service.instance.id") for p in points}
    assert {model: by_model.get(model) for model in ids if model in by_model} == {
        model: ids[model] for model in by_model
    }
    assert {"m-parent", "m-forked"} <= set(by_model)
