"""Real Jaeger v2 (ops/jaeger/jaeger.yaml, in-memory store): apps under opentelemetry-instrument export to it, the
traces are read back through its query API, and the `jaeger_remote` sampler follows its remote-sampling extension."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.kotaemon_standin import environment
from tests.kotaemon_standin.react_server import react_server
from tests.support.backends import Jaeger, binary
from tests.support.e2e import FAKE_API_KEY, run_instrumented
from tests.support.openai_server import OpenAIServer
from tests.support.prometheus import wait_until
from tests.support.sampling_app import TRACES_ONLY, SamplingApp


@pytest.fixture(scope="module")
def strategies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("strategies") / "strategies.json"
    write_strategies(path, {"service": "other", "type": "probabilistic", "param": 1})
    return path


@pytest.fixture(scope="module")
def jaeger(tmp_path_factory: pytest.TempPathFactory, strategies: Path) -> Iterator[Jaeger]:
    server = Jaeger(binary("jaeger"), tmp_path_factory.mktemp("jaeger"), strategies=strategies, reload="1s")
    server.start()
    yield server
    server.stop()


def write_strategies(path: Path, *services: dict[str, Any]) -> None:
    """Replace the strategies file in one rename, so Jaeger never reads half of it."""
    body = {"default_strategy": {"type": "probabilistic", "param": 0.001}, "service_strategies": list(services)}
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(body))
    partial.replace(path)


def wait_served(jaeger: Jaeger, service: str, param: float) -> None:
    """Wait until Jaeger has re-read the strategies file and serves `service` its probability `param`."""

    def served() -> bool:
        with urllib.request.urlopen(f"{jaeger.sampling}?service={service}", timeout=5) as answer:
            strategy = json.load(answer)
        return bool(strategy.get("probabilisticSampling", {}).get("samplingRate") == param)

    wait_until(served, f"Jaeger serving the strategy of {service}", timeout=30)


# --- traces read back through Jaeger's query API


def tags(span: dict[str, Any]) -> dict[str, Any]:
    return {tag["key"]: tag["value"] for tag in span["tags"]}


def parent_of(span: dict[str, Any]) -> str | None:
    refs = [ref["spanID"] for ref in span.get("references", ()) if ref["refType"] == "CHILD_OF"]
    return refs[0] if refs else None


def one_trace(jaeger: Jaeger, service: str, root_name: str) -> dict[str, Any]:
    def find() -> dict[str, Any] | None:
        for found in jaeger.traces(service):
            if any(s["operationName"] == root_name and parent_of(s) is None for s in found["spans"]):
                return found
        return None

    found: dict[str, Any] = wait_until(find, f"the {root_name} trace in Jaeger", timeout=30)
    return found


def test_rag_question_is_one_trace_in_jaeger(jaeger: Jaeger) -> None:
    env = {**environment(), **TRACES_ONLY, "OTEL_SERVICE_NAME": "kotaemon-rag-jaeger"}
    with react_server() as server:
        run_instrumented(
            "examples/kotaemon_rag_app.py",
            server.base_url,
            receiver=SimpleNamespace(endpoint=jaeger.otlp_http),
            env=env,
        )
    found = one_trace(jaeger, "kotaemon-rag-jaeger", "invoke_workflow RAGPipeline")
    spans = {s["spanID"]: s for s in found["spans"]}
    by_name = {s["operationName"]: s for s in spans.values()}
    root = by_name["invoke_workflow RAGPipeline"]

    def children(span: dict[str, Any]) -> list[str]:
        kids = [s for s in spans.values() if parent_of(s) == span["spanID"]]
        return [s["operationName"] for s in sorted(kids, key=lambda s: (s["startTime"], s["operationName"]))]

    # the tree, as it ran: retrieval (embedding, two re-rankers, the LLM re-ranker's three judgements), then the answer
    assert children(root) == ["retrieval VectorRetrieval", "chat kt-answer"]
    retrieval = by_name["retrieval VectorRetrieval"]
    assert children(retrieval) == ["embeddings kt-embed", "rerank CohereReranking", "rerank LLMReranking"]
    assert children(by_name["rerank LLMReranking"]) == ["chat kt-rerank"] * 3
    assert len(spans) == 9 and all(s["traceID"] == found["traceID"] for s in spans.values())
    # service name, span kinds and the attributes we promise
    assert {p["serviceName"] for p in found["processes"].values()} == {"kotaemon-rag-jaeger"}
    assert tags(root)["span.kind"] == "internal" and tags(root)["kotaemon.span.kind"] == "pipeline"
    answer = tags(by_name["chat kt-answer"])
    assert answer["span.kind"] == "client"
    assert answer["gen_ai.operation.name"] == "chat" and answer["gen_ai.request.model"] == "kt-answer"
    assert answer["gen_ai.request.temperature"] == pytest.approx(0.2)
    assert answer["gen_ai.usage.input_tokens"] > 0 and answer["gen_ai.usage.output_tokens"] > 0
    assert tags(retrieval)["gen_ai.retrieval.top_k"] == 2 and tags(retrieval)["kotaemon.documents.count"] == 2
    # durations: every child starts and ends inside its parent, the root takes the longest
    for span in spans.values():
        assert span["duration"] > 0
        parent = spans.get(parent_of(span) or "")
        if parent is not None:
            assert parent["startTime"] <= span["startTime"]
            assert span["startTime"] + span["duration"] <= parent["startTime"] + parent["duration"]
    assert root["duration"] == max(s["duration"] for s in spans.values())
    print("Jaeger's answer, abridged:", json.dumps({**found, "spans": [root, by_name["chat kt-answer"]]}, indent=1))


def test_errors_are_marked_and_nothing_redacted_reaches_jaeger(jaeger: Jaeger) -> None:
    from tests.e2e.test_no_leaks import PLANTED

    env = {
        **environment(),
        **TRACES_ONLY,
        "OTEL_SERVICE_NAME": "secrets-jaeger",
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "span_and_event",
    }
    with OpenAIServer() as server:
        run_instrumented(
            "secrets_app.py", server.base_url, receiver=SimpleNamespace(endpoint=jaeger.otlp_http), env=env
        )
    names = {"chat s-openai", "chat s-langchain", "chat s-kotaemon", "execute_tool lookup", "retrieval Leaky"}

    def everything() -> list[dict[str, Any]] | None:
        found = jaeger.traces("secrets-jaeger")
        seen = {s["operationName"] for t in found for s in t["spans"]}
        return found if names <= seen and sum(len(t["spans"]) for t in found) >= 8 else None

    found = wait_until(everything, "the secrets app's traces in Jaeger", timeout=30)
    exported = json.dumps(found)
    failed = {s["operationName"]: tags(s) for t in found for s in t["spans"] if tags(s).get("error") is True}
    assert sorted(failed) == [
        "chat error-500",
        "execute_tool failing_lookup",
        "execute_tool kotaemon_failing_lookup",
        "execute_tool soft_lookup",
    ]
    failure = failed["chat error-500"]
    assert failure["otel.status_code"] == "ERROR" and failure["error.type"] == "openai.InternalServerError"
    assert all(tool["otel.status_code"] == "ERROR" for tool in failed.values())
    assert "[REDACTED:card]" in exported  # content was captured, redacted
    assert [secret for secret in PLANTED if secret in exported] == []
    assert FAKE_API_KEY not in exported


# --- the jaeger_remote sampler against Jaeger's remote-sampling extension


def test_sampled_share_follows_the_strategies_file(jaeger: Jaeger, strategies: Path) -> None:
    service = "sampling-follow"
    write_strategies(strategies, {"service": service, "type": "probabilistic", "param": 0.2})
    polling_ms = 1000
    arg = f"endpoint={jaeger.sampling},pollingIntervalMs={polling_ms},initialSamplingRate=0"
    app = SamplingApp(jaeger.otlp_http, service, seconds=40, rates={"work": 200}, arg=arg)
    try:
        # from the initial rate (0) to the file's 0.2, without the app having waited for anything
        first = app.next_window()["counts"]["work"]
        assert first[0] >= 50, first
        app.share_until("work", 0.12, 0.28, deadline=time.time() + 15)
        changed_at = time.time()
        write_strategies(strategies, {"service": service, "type": "probabilistic", "param": 0.8})
        # the file is re-read every second, the app polls every second: the new share shows within both (plus the
        # two windows the share is measured over, and slack for a busy machine)
        seen_at = app.share_until("work", 0.7, 0.9, deadline=changed_at + 1 + polling_ms / 1000 + 1 + 4)
        assert seen_at - changed_at < 7, seen_at - changed_at
    finally:
        stderr = app.finish()
    assert app.process.returncode == 0, stderr
    assert "jaeger_remote" not in stderr  # no warning: the endpoint always answered


def test_sensitive_operation_kept_beside_ten_traces_per_second(jaeger: Jaeger, strategies: Path) -> None:
    service = "sampling-operations"
    write_strategies(
        strategies,
        {
            "service": service,
            "type": "ratelimiting",
            "param": 10,
            "operation_strategies": [{"operation": "sensitive", "type": "probabilistic", "param": 1.0}],
        },
    )
    arg = f"endpoint={jaeger.sampling},pollingIntervalMs=500,initialSamplingRate=0"
    app = SamplingApp(jaeger.otlp_http, service, seconds=8, rates={"sensitive": 20, "search": 100}, arg=arg)
    windows = []
    while not windows or not windows[-1].get("last"):
        windows.append(app.next_window())
    stderr = app.finish()
    assert app.process.returncode == 0, stderr
    # once the strategy arrived (the first window sampled something), every sensitive trace is kept and the rest
    # is held to 10 per second
    active = [w for w in windows if w["counts"]["search"][1] or w["counts"]["sensitive"][1]]
    assert len(active) >= len(windows) - 3, windows
    sensitive = [w["counts"]["sensitive"] for w in active[1:]]
    assert all(kept == started for started, kept, _ in sensitive), sensitive
    searched = [w["counts"]["search"] for w in active[1:]]
    seconds = len(searched) * 0.5
    kept = sum(c[1] for c in searched)
    assert sum(c[0] for c in searched) >= 8 * seconds * 10  # far more than 10/s were started
    assert 10 * seconds - 10 <= kept <= 10 * seconds + 10, (kept, seconds)
    # and Jaeger received every sensitive trace the app kept
    kept_sensitive = sum(w["counts"]["sensitive"][1] for w in windows)
    wait_until(
        lambda: sum(1 for t in jaeger.traces(service, limit=5000, operation="sensitive")) == kept_sensitive,
        f"{kept_sensitive} sensitive traces in Jaeger",
    )


def test_jaeger_stopped_and_restarted(jaeger: Jaeger, strategies: Path, tmp_path: Path) -> None:
    service = "sampling-restart"
    write_strategies(strategies, {"service": service, "type": "probabilistic", "param": 0.5})
    arg = f"endpoint={jaeger.sampling},pollingIntervalMs=300,initialSamplingRate=0"
    app = SamplingApp(jaeger.otlp_http, service, seconds=45, rates={"work": 200}, arg=arg)
    try:
        app.share_until("work", 0.38, 0.62, deadline=time.time() + 15)
        jaeger.stop()
        stopped_at = time.time()
        write_strategies(strategies, {"service": service, "type": "probabilistic", "param": 0.1})
        wait_until(lambda: "cannot reach" in app.stderr_so_far(), "the app to notice Jaeger is gone")
        # Jaeger down: the last good strategy stays (windows that ended a second or more after the stop)
        first = app.next_window()
        while first["end"] <= stopped_at + 1:
            first = app.next_window()
        for window in (first, app.next_window(), app.next_window()):
            started, kept, _ = window["counts"]["work"]
            assert 0.3 <= kept / started <= 0.7, (started, kept)
        jaeger.start()
        app.share_until("work", 0.03, 0.18, deadline=time.time() + 15)
    finally:
        if jaeger.process is None or jaeger.process.poll() is not None:
            jaeger.start()
        stderr = app.finish()
    assert app.process.returncode == 0, stderr
    warnings = [line for line in stderr.splitlines() if "jaeger_remote" in line]
    assert len(warnings) == 2, stderr  # one when it went away, one when it answered again
    assert "cannot reach" in warnings[0] and "keeping probabilistic 0.5" in warnings[0]
    assert "answers again; sampling probabilistic 0.1" in warnings[1]


def test_bad_sampler_argument_warns_once_each_and_uses_defaults(jaeger: Jaeger, strategies: Path) -> None:
    service = "sampling-bad-arg"
    write_strategies(strategies, {"service": service, "type": "probabilistic", "param": 1.0})
    wait_served(jaeger, service, 1.0)  # the app fetches once: a bad polling interval falls back to a minute
    arg = f"endpoint={jaeger.sampling},pollingIntervalMs=fast,initialSamplingRate=2,colour=blue"
    app = SamplingApp(jaeger.otlp_http, service, seconds=4, rates={"work": 50}, arg=arg)
    windows = []
    while not windows or not windows[-1].get("last"):
        windows.append(app.next_window())
    stderr = app.finish()
    assert app.process.returncode == 0, stderr
    warnings = [line for line in stderr.splitlines() if "OTEL_TRACES_SAMPLER_ARG" in line]
    assert len(warnings) == 3, stderr
    assert any("pollingIntervalMs=fast" in w and "pollingIntervalMs=60000 instead" in w for w in warnings)
    assert any("initialSamplingRate=2" in w and "initialSamplingRate=0.001 instead" in w for w in warnings)
    assert any("colour=blue" in w for w in warnings)
    # the endpoint part was good: the strategy (keep everything) arrived and applied
    assert windows[-2]["counts"]["work"][0] == windows[-2]["counts"]["work"][1] > 0
