"""`jaeger_remote` polling a local HTTP endpoint: never waits, swaps strategies, survives outages and bad answers.

The real Jaeger remote-sampling extension is in tests/ops/test_jaeger.py; this server lets each failure be chosen.
"""

from __future__ import annotations

import http.server
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace.sampling import Decision

from opentelemetry_instrumentation_kotaemon.sdk.jaeger_remote import JaegerRemoteSampler, RemoteSamplerConfig
from tests.support.prometheus import wait_until


class StrategyServer(http.server.ThreadingHTTPServer):
    """Answers every GET with `body` (bytes), or holds the request until `release` is set when `hold` is."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.body = b"{}"
        self.status = 200
        self.hold = False
        self.release = threading.Event()
        self.requests: list[str] = []

    def answer(self, body: Any, status: int = 200) -> None:
        self.body = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.status = status

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/sampling"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: StrategyServer

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        if self.server.hold:
            self.server.release.wait(10)
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.server.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[StrategyServer]:
    strategy_server = StrategyServer()
    thread = threading.Thread(target=strategy_server.serve_forever, daemon=True)
    thread.start()
    yield strategy_server
    strategy_server.release.set()
    strategy_server.shutdown()
    strategy_server.server_close()


def probabilistic(rate: float) -> dict[str, Any]:
    return {"strategyType": 0, "probabilisticSampling": {"samplingRate": rate}}


def sampler_for(endpoint: str, interval_ms: int = 50, initial: float = 0.001) -> JaegerRemoteSampler:
    return JaegerRemoteSampler(RemoteSamplerConfig(endpoint, interval_ms, initial), "rag app")


def strategy_of(sampler: JaegerRemoteSampler, description: str) -> bool:
    return sampler.status().strategy == description


def test_never_waits_for_the_endpoint_and_follows_its_answers(server: StrategyServer) -> None:
    server.hold = True
    server.answer(probabilistic(0.5))
    started = time.monotonic()
    sampler = sampler_for(server.endpoint, initial=0.25)
    try:
        assert sampler.status().strategy == "probabilistic 0.25"
        assert time.monotonic() - started < 1.0  # the held request does not hold the constructor
        server.release.set()
        wait_until(lambda: strategy_of(sampler, "probabilistic 0.5"), "the first answer")
        assert server.requests[0] == "/sampling?service=rag+app"
        server.answer({"strategyType": 1, "rateLimitingSampling": {"maxTracesPerSecond": 7}})
        wait_until(lambda: strategy_of(sampler, "rate limiting 7/s"), "the changed answer")
        assert sampler.status().problem is None and sampler.status().refreshed_at is not None
    finally:
        sampler.stop()


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        ((b"<html>busy</html>", 200), "not a sampling strategy"),
        (({"strategyType": 0, "probabilisticSampling": {"samplingRate": 3}}, 200), "not a sampling strategy"),
        ((b"collector error", 500), "cannot reach"),
    ],
)
def test_bad_answers_keep_the_last_good_strategy_with_one_warning(
    server: StrategyServer, bad: tuple[Any, int], problem: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "opentelemetry_instrumentation_kotaemon.sdk.jaeger_remote")
    server.answer(probabilistic(0.5))
    sampler = sampler_for(server.endpoint)
    try:
        wait_until(lambda: strategy_of(sampler, "probabilistic 0.5"), "the first answer")
        server.answer(*bad)
        count = len(server.requests)
        wait_until(lambda: len(server.requests) >= count + 5, "five more polls")
        assert sampler.status().strategy == "probabilistic 0.5"
        assert problem in (sampler.status().problem or "")
        warnings = [r.getMessage() for r in caplog.records]
        assert len(warnings) == 1 and "keeping probabilistic 0.5" in warnings[0], warnings
        server.answer(probabilistic(0.125))
        wait_until(lambda: strategy_of(sampler, "probabilistic 0.125"), "recovery")
        assert sampler.status().problem is None
        assert "answers again" in caplog.records[-1].getMessage()
    finally:
        sampler.stop()


def test_endpoint_down_from_the_start_keeps_the_initial_rate(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "opentelemetry_instrumentation_kotaemon.sdk.jaeger_remote")
    with StrategyServer() as closed:  # bound then closed: nothing listens on its port
        endpoint = closed.endpoint
    sampler = sampler_for(endpoint, interval_ms=20, initial=0.2)
    try:
        wait_until(lambda: sampler.status().failed_refreshes >= 5, "five failed polls")
        assert sampler.status().strategy == "probabilistic 0.2"
        assert len(caplog.records) == 1 and "cannot reach" in caplog.records[0].getMessage()
    finally:
        sampler.stop()


def test_doctor_shows_the_strategy_the_endpoint_serves(server: StrategyServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from opentelemetry_instrumentation_kotaemon.cli.doctor import sampling_report

    monkeypatch.setenv("OTEL_SERVICE_NAME", "rag app")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "jaeger_remote")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", f"endpoint={server.endpoint},pollingIntervalMs=5000")
    server.answer(probabilistic(0.25))
    lines: list[str] = []
    assert sampling_report(lines.append) == 0
    report = "\n".join(lines)
    assert f"strategies from {server.endpoint}?service=rag+app, every 5000 ms" in report
    assert "current strategy: probabilistic 0.25 (refreshed 20" in report and "UTC)" in report
    server.answer(b"oops")
    lines.clear()
    assert sampling_report(lines.append) == 1
    assert "the app samples at the initial rate, probabilistic 0.001" in "\n".join(lines)


def test_doctor_shows_an_adaptive_strategy_per_operation(
    server: StrategyServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opentelemetry_instrumentation_kotaemon.cli.doctor import sampling_report

    monkeypatch.setenv("OTEL_SERVICE_NAME", "fleet")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_jaeger_remote")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", f"endpoint={server.endpoint}")
    server.answer(
        {
            "strategyType": "PROBABILISTIC",
            "operationSampling": {
                "defaultSamplingProbability": 0.001,
                "defaultLowerBoundTracesPerSecond": 0.5,
                "perOperationStrategies": [
                    {"operation": "quiet", "probabilisticSampling": {"samplingRate": 0.8}},
                    {"operation": "busy", "probabilisticSampling": {"samplingRate": 0.08}},
                ],
            },
        }
    )
    lines: list[str] = []
    assert sampling_report(lines.append) == 0
    report = "\n".join(lines)
    assert "current strategy: per operation {busy: 0.08, quiet: 0.8}; other operations probabilistic 0.001" in report
    assert "at least 0.5/s per operation" in report and "forked worker too" in report


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_polls_on_its_own_with_rate_limits_of_its_own(server: StrategyServer) -> None:
    server.answer({"strategyType": 1, "rateLimitingSampling": {"maxTracesPerSecond": 0.01}})  # one a 100 s
    sampler = sampler_for(server.endpoint, interval_ms=50)
    try:
        wait_until(lambda: strategy_of(sampler, "rate limiting 0.01/s"), "the first answer")
        assert sampler.should_sample(None, 1, "x").decision is Decision.RECORD_AND_SAMPLE  # the bucket's one token
        assert sampler.should_sample(None, 1, "x").decision is Decision.DROP
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: report, then leave without running the parent's exit hooks
            try:
                forked_at = time.time()
                deadline = time.monotonic() + 10
                while (sampler.status().refreshed_at or 0) <= forked_at and time.monotonic() < deadline:
                    time.sleep(0.01)
                child = {
                    "polled": (sampler.status().refreshed_at or 0) > forked_at,
                    "thread": sampler._thread is not None and sampler._thread.is_alive(),
                    "kept": sampler.should_sample(None, 1, "x").decision is Decision.RECORD_AND_SAMPLE,
                }
                os.write(write_end, json.dumps(child).encode())
            finally:
                os._exit(0)
        os.close(write_end)
        with os.fdopen(read_end) as pipe:
            child = json.loads(pipe.read() or "{}")
        os.waitpid(pid, 0)
        # the child polls with a thread of its own and starts with a full bucket; the parent's stays empty
        assert child == {"polled": True, "thread": True, "kept": True}
        assert sampler.should_sample(None, 1, "x").decision is Decision.DROP
    finally:
        sampler.stop()


@pytest.mark.parametrize("name", ["jaeger_remote", "parentbased_jaeger_remote"])
def test_both_names_of_the_specification_give_the_parent_based_remote_sampler(
    server: StrategyServer, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from importlib.metadata import entry_points

    from opentelemetry import trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    (entry_point,) = [ep for ep in entry_points(group="opentelemetry_traces_sampler") if ep.name == name]
    monkeypatch.setenv("OTEL_SERVICE_NAME", "both")
    server.answer(probabilistic(1.0))
    sampler = entry_point.load()(f"endpoint={server.endpoint},pollingIntervalMs=50,initialSamplingRate=0")
    try:
        wait_until(lambda: sampler.root.status().strategy == "probabilistic 1", "the first answer")
        root = sampler.should_sample(None, 5, "root")
        assert root.decision is Decision.RECORD_AND_SAMPLE
        assert dict(root.attributes) == {"sampler.type": "probabilistic", "sampler.param": 1.0}
        for sampled in (True, False):  # a parent's decision wins over the strategy, local or remote
            for remote in (True, False):
                flags = TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT)
                parent = trace.set_span_in_context(NonRecordingSpan(SpanContext(5, 6, remote, flags)))
                decision = sampler.should_sample(parent, 5, "child").decision
                assert decision is (Decision.RECORD_AND_SAMPLE if sampled else Decision.DROP), (sampled, remote)
    finally:
        sampler.root.stop()
