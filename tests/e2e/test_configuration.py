"""Bad standard values, the default service name, samplers, baggage and log correlation, through
`opentelemetry-instrument` in a subprocess."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.e2e import run_instrumented
from tests.support.openai_server import OpenAIServer
from tests.support.otlp_receiver import OtlpReceiver


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
        shown = f"{name} is not valid" if name.endswith("_HEADERS") else f"{name}={value!r} is not valid"
        lines = [line for line in result.stderr.splitlines() if line.startswith(shown)]
        assert len(lines) == 1, (name, result.stderr)
    assert "Traceback" not in result.stderr


def _listed_first(root: Path) -> None:
    """`opentelemetry-distro`'s distro and configurator registered again by a distribution on the path ahead of
    site-packages: whatever the file system's order, the loader meets them before ours."""
    info = root / "aaa_first_distro-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: aaa-first-distro\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[opentelemetry_distro]\nfirst = opentelemetry.distro:OpenTelemetryDistro\n\n"
        "[opentelemetry_configurator]\nfirst = opentelemetry.distro:OpenTelemetryConfigurator\n"
    )


def test_our_distro_and_configurator_win_over_ones_listed_first(server: OpenAIServer, tmp_path: Path) -> None:
    _listed_first(tmp_path)
    with OtlpReceiver() as receiver:
        env = {"PYTHONPATH": str(tmp_path), "OTEL_SERVICE_NAME": "", "OTEL_EXPORTER_OTLP_TIMEOUT": "soon"}
        result = run_instrumented("openai_app.py", "sync", receiver=receiver, base_url=server.base_url, env=env)
        (span,) = receiver.spans
    # ours: the default service name, the OTLP protocol of this install (the other distro's is gRPC), and the
    # malformed timeout replaced with one warning before the SDK read it
    assert span.resource["service.name"] == "openai_app"
    assert [line for line in result.stderr.splitlines() if "OTEL_EXPORTER_OTLP_TIMEOUT='soon'" in line]
    assert "not loaded" not in result.stderr and "Traceback" not in result.stderr


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

    try:  # not a dependency: installed by users who export app logs through it
        release = metadata.version("opentelemetry-instrumentation-logging")
    except metadata.PackageNotFoundError:
        release = "0.0"
    new_logging = int(release.split(".")[1].split("b")[0]) >= 50
    ask = "OTEL_PYTHON_LOG_AUTO_INSTRUMENTATION" if new_logging else "OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED"
    with OtlpReceiver() as receiver:
        result = run_instrumented("leaky_logging_app.py", receiver=receiver, env={ask: "true"})
        records = [r for r in receiver.logs if "order for" in str(r.body) or r.body == "payment failed"]
        (structured,) = [r for r in receiver.logs if isinstance(r.body, dict)]
        everything = repr(receiver.logs)
    if new_logging:  # the app's own output is untouched (the SDK < 1.28 handler makes `basicConfig` a no-op)
        assert "LOCAL order for alice@example.com paid with 4111 1111 1111 1111" in result.stderr
    bodies = [r.body for r in records]
    assert bodies == ["order for [REDACTED:email] paid with [REDACTED:card]", "payment failed"]
    exported = repr(records)
    assert "alice@example.com" not in exported and "4111 1111 1111 1111" not in exported
    assert "sk-live-abcdefghijklmnopqrstuvwx" not in exported
    assert "[REDACTED:api_key]" in records[1].attributes["exception.message"]
    # a body that is not text, and list attributes: every value in them is redacted
    assert structured.body == {"customer": "[REDACTED:email]", "card": "[REDACTED:card]"}
    assert structured.attributes["recipients"] == ["[REDACTED:email]", "[REDACTED:email]"]
    assert structured.attributes["cards"] == ["[REDACTED:card]"]
    assert "jane.doe@example.com" not in everything and "4111 1111 1111 1111" not in everything
