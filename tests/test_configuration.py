"""The distro's defaults and checks of standard variables, our samplers, and context taken from baggage."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator

import openai
import pytest
from opentelemetry import baggage, context, trace
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, Decision
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from opentelemetry_instrumentation_kotaemon.sdk.distro import default_service_name
from opentelemetry_instrumentation_kotaemon.sdk.sampling import (
    DebugHeaderPropagator,
    KotaemonSampler,
    RateLimitingSampler,
    rate_limit_sampler,
    ratio_sampler,
)
from opentelemetry_instrumentation_kotaemon.settings import sanitize_standard_variables
from tests.conftest import Captured
from tests.support.e2e import run_instrumented
from tests.support.openai_server import OpenAIServer
from tests.support.otlp_receiver import OtlpReceiver

Instrument = Callable[..., Captured]


# --- standard variables


@pytest.mark.parametrize(
    ("name", "value", "fixed"),
    [
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json", "http/protobuf"),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "carrier-pigeon", "http/protobuf"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "soon", None),
        ("OTEL_BSP_SCHEDULE_DELAY", "-5", None),
        ("OTEL_METRIC_EXPORT_INTERVAL", "1m", None),
        ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=abc,broken,=x", "api-key=abc"),
        ("OTEL_TRACES_EXPORTER", "otlp,zipkin", "otlp"),
        ("OTEL_METRICS_EXPORTER", "nothing-installed", "otlp"),
    ],
)
def test_malformed_standard_values_are_replaced_with_one_warning(
    name: str, value: str, fixed: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    environ = {name: value}
    sanitize_standard_variables(environ)
    assert environ.get(name) == fixed
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1 and name in messages[0] and repr(value) in messages[0]


def test_good_standard_values_are_left_alone(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    environ = {
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "2.5",
        "OTEL_EXPORTER_OTLP_HEADERS": "a=1,b=x%3Dy",
        "OTEL_TRACES_EXPORTER": "otlp,console",
        "OTEL_LOGS_EXPORTER": "none",
    }
    before = dict(environ)
    sanitize_standard_variables(environ)
    assert environ == before
    assert caplog.records == []


def test_default_service_name_is_the_script(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.argv", ["/srv/rag/app.py", "--port", "1"])
    assert default_service_name() == "app"
    monkeypatch.setattr("sys.argv", ["-c"])
    assert default_service_name() == "kotaemon-app"


# --- samplers


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _decisions(sampler: RateLimitingSampler, count: int) -> list[bool]:
    return [sampler.should_sample(None, 1, "root").decision.is_sampled() for _ in range(count)]  # type: ignore[no-untyped-call]


def test_rate_limit_allows_a_second_of_burst_then_refills_with_time() -> None:
    clock = FakeClock()
    sampler = RateLimitingSampler(10, clock)
    assert _decisions(sampler, 12) == [True] * 10 + [False] * 2
    clock.now += 0.25  # 2.5 tokens
    assert _decisions(sampler, 3) == [True, True, False]
    clock.now += 100
    assert _decisions(sampler, 11).count(True) == 10  # never more than one second's worth


def test_fractional_rate_keeps_one_trace_per_period() -> None:
    clock = FakeClock()
    sampler = RateLimitingSampler(0.5, clock)
    assert _decisions(sampler, 2) == [True, False]
    clock.now += 1.0
    assert _decisions(sampler, 1) == [False]
    clock.now += 1.0
    assert _decisions(sampler, 1) == [True]


def _parent(sampled: bool, remote: bool) -> context.Context:
    span_context = SpanContext(
        trace_id=7, span_id=9, is_remote=remote, trace_flags=TraceFlags(TraceFlags.SAMPLED if sampled else 0)
    )
    return trace.set_span_in_context(NonRecordingSpan(span_context))


def _sampled(sampler: KotaemonSampler, ctx: context.Context | None, name: str = "root", **attributes: object) -> bool:
    return sampler.should_sample(ctx, 7, name, attributes=attributes or None).decision is Decision.RECORD_AND_SAMPLE


def test_kotaemon_sampler_follows_parents_and_keeps_forced_traces() -> None:
    sampler = KotaemonSampler(ALWAYS_OFF, always_sample=("login*", "*payment*"))
    assert not _sampled(sampler, None)
    assert _sampled(sampler, _parent(sampled=True, remote=False))
    assert not _sampled(sampler, _parent(sampled=False, remote=True))
    debug = baggage.set_baggage("kotaemon.debug", "true")
    assert _sampled(sampler, debug)
    assert _sampled(sampler, baggage.set_baggage("kotaemon.debug", "true", _parent(sampled=False, remote=True)))
    # a local unsampled parent stays unsampled: a forced child would be an orphan
    assert not _sampled(sampler, baggage.set_baggage("kotaemon.debug", "true", _parent(sampled=False, remote=False)))
    assert _sampled(sampler, None, "POST /api", **{"http.request.header.x_debug_tracing": ("true",)})
    assert _sampled(sampler, None, "login user") and _sampled(sampler, None, "POST /payment/confirm")
    assert not _sampled(sampler, None, "search")


def test_debug_header_is_noted_when_the_incoming_context_is_extracted() -> None:
    sampler = KotaemonSampler(ALWAYS_OFF)
    propagator = DebugHeaderPropagator()
    assert _sampled(sampler, propagator.extract({"x-debug-tracing": "True"}))
    assert not _sampled(sampler, propagator.extract({"x-debug-tracing": "false"}))
    assert not _sampled(sampler, propagator.extract({}))
    assert not _sampled(sampler, propagator.extract(object()))  # a carrier the getter cannot read fails nothing
    outgoing: dict[str, str] = {}
    propagator.inject(outgoing, propagator.extract({"x-debug-tracing": "true"}))
    assert outgoing == {}  # never passed on downstream


def test_sampler_arguments_are_validated(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    caplog.set_level(logging.WARNING)
    monkeypatch.setenv("OTEL_KOTAEMON_ALWAYS_SAMPLE", "login*")
    limited = rate_limit_sampler("lots")
    assert isinstance(limited.root, RateLimitingSampler) and limited.root.per_second == 10.0
    assert limited.always_sample == ("login*",)
    assert ratio_sampler("1.5").root.rate == 1.0  # type: ignore[attr-defined]
    assert ratio_sampler("0.25").root.rate == 0.25  # type: ignore[attr-defined]
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2 and all("OTEL_TRACES_SAMPLER_ARG" in m for m in messages)


# --- context from baggage


def test_baggage_becomes_span_attributes(instrument: Instrument, openai_server: OpenAIServer) -> None:
    captured = instrument()
    client = openai.OpenAI(base_url=openai_server.base_url, api_key="k")
    ctx = baggage.set_baggage("session.id", "s-1")
    ctx = baggage.set_baggage("user.id", "bob", ctx)
    ctx = baggage.set_baggage("kotaemon.variant", "b", ctx)
    ctx = baggage.set_baggage("other", "x", ctx)
    token = context.attach(ctx)
    try:
        client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hi"}])
    finally:
        context.detach(token)
    attributes = captured.span().attributes
    assert attributes["session.id"] == "s-1"
    assert attributes["user.id"] == "sha256:" + hashlib.sha256(b"bob").hexdigest()[:16]
    assert attributes["kotaemon.variant"] == "b"
    assert "other" not in attributes


# --- end to end


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as server:
        yield server


def test_bad_values_warn_and_telemetry_still_flows(server: OpenAIServer) -> None:
    bad = {
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "soon",
        "OTEL_BSP_MAX_QUEUE_SIZE": "big",
        "OTEL_TRACES_EXPORTER": "otlp,zipkin",
        "OTEL_EXPORTER_OTLP_HEADERS": "broken",
        "OTEL_KOTAEMON_CONTENT_MAX_LENGTH": "long",
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "please",
    }
    with OtlpReceiver() as receiver:
        result = run_instrumented("openai_app.py", "sync", receiver=receiver, base_url=server.base_url, env=bad)
        assert [s.name for s in receiver.spans] == ["chat m-sync"]
        assert receiver.points
    for name, value in bad.items():
        lines = [line for line in result.stderr.splitlines() if name in line and repr(value) in line]
        assert len(lines) == 1, (name, result.stderr)
    assert "Traceback" not in result.stderr


def test_service_name_defaults_to_the_script_name_and_startup_is_quiet(server: OpenAIServer) -> None:
    with OtlpReceiver() as receiver:
        result = run_instrumented(
            "openai_app.py", "sync", receiver=receiver, base_url=server.base_url, env={"OTEL_SERVICE_NAME": ""}
        )
        (span,) = receiver.spans
    assert span.resource["service.name"] == "openai_app"
    assert "not loaded" not in result.stderr  # no notice about opentelemetry-distro's configurator


def test_rate_limit_sampler_with_always_sample_rule(server: OpenAIServer) -> None:
    env = {
        "OTEL_TRACES_SAMPLER": "kotaemon_ratelimit",
        "OTEL_TRACES_SAMPLER_ARG": "0.001",
        "OTEL_KOTAEMON_ALWAYS_SAMPLE": "embeddings *",
    }
    with OtlpReceiver() as receiver:
        run_instrumented(
            "openai_app.py", "sync", "retry", "embeddings", receiver=receiver, base_url=server.base_url, env=env
        )
        names = sorted(s.name for s in receiver.spans)
        durations = [p for p in receiver.points if p.metric == "gen_ai.client.operation.duration"]
    assert names == ["chat m-sync", "embeddings m-embed"]  # the second chat waited for a token that never came
    assert sum(p.count or 0 for p in durations) == 3  # metrics count every call, sampled or not


def test_debug_baggage_forces_a_trace_and_context_lands_on_spans(server: OpenAIServer) -> None:
    env = {"OTEL_TRACES_SAMPLER": "kotaemon_ratio", "OTEL_TRACES_SAMPLER_ARG": "0"}
    with OtlpReceiver() as receiver:
        run_instrumented("baggage_app.py", receiver=receiver, base_url=server.base_url, env=env)
        (span,) = receiver.spans
    assert span.name == "chat m-variant-b"
    assert span.attributes["session.id"] == "s-42"
    assert span.attributes["gen_ai.conversation.id"] == "conv-7"
    assert span.attributes["kotaemon.variant"] == "m-variant-b"
    assert span.attributes["user.id"].startswith("sha256:") and "alice" not in repr(span.attributes)
    assert "unrelated" not in span.attributes


def test_log_records_carry_the_ids_of_the_current_span(server: OpenAIServer) -> None:
    with OtlpReceiver() as receiver:
        result = run_instrumented("logging_app.py", receiver=receiver, base_url=server.base_url)
        (span,) = receiver.spans
        assert receiver.logs == []  # app logs are exported only when asked for
    lines = [line for line in result.stderr.splitlines() if line.startswith("LOG ")]
    assert "LOG app trace=0 span=0 before the call" in lines  # no span current: ids are zero, no error
    in_call = [line for line in lines if line.startswith("LOG openai") and f"span={span.span_id}" in line]
    assert in_call and all(f"trace={span.trace_id}" in line for line in in_call)
    assert "Logging error" not in result.stderr


def test_exported_app_logs_are_redacted_and_local_output_is_not(server: OpenAIServer) -> None:
    from importlib import metadata

    new_logging = int(metadata.version("opentelemetry-instrumentation-logging").split(".")[1].split("b")[0]) >= 50
    ask = "OTEL_PYTHON_LOG_AUTO_INSTRUMENTATION" if new_logging else "OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED"
    with OtlpReceiver() as receiver:
        result = run_instrumented("leaky_logging_app.py", receiver=receiver, env={ask: "true"})
        records = [r for r in receiver.logs if "order for" in str(r.body) or r.body == "payment failed"]
    if new_logging:  # the app's own output is untouched (the SDK < 1.28 handler makes `basicConfig` a no-op)
        assert "LOCAL order for alice@example.com paid with 4111 1111 1111 1111" in result.stderr
    bodies = [r.body for r in records]
    assert bodies == ["order for [REDACTED:email] paid with [REDACTED:card]", "payment failed"]
    exported = repr(records)
    assert "alice@example.com" not in exported and "4111 1111 1111 1111" not in exported
    assert "sk-live-abcdefghijklmnopqrstuvwx" not in exported
    assert "[REDACTED:api_key]" in records[1].attributes["exception.message"]
