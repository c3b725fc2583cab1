"""The collector is down, hangs, fails or is slow: the app runs and exits as usual, a few clear lines say so, export
resumes."""

from __future__ import annotations

import contextlib
import logging
import math
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.sdk.trace.export import ConsoleSpanExporter

from opentelemetry_instrumentation_kotaemon.sdk.export_errors import QUIET_SECONDS, ExportErrorFilter, exporting
from opentelemetry_instrumentation_kotaemon.sdk.export_retries import retry_limit, with_bounded_retries
from tests.support.e2e import REPO, instrumented_environment, launch, run_instrumented
from tests.support.openai_server import OpenAIServer
from tests.support.otlp_receiver import OtlpReceiver


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as server:
        yield server


SLOW_COLLECTOR_SECONDS = 10.0
EXPORT_TIMEOUT_SECONDS = 1.0
"""The distro's default `OTEL_EXPORTER_OTLP_TIMEOUT`: an export that held up a call would hold it about this long."""
APP_CALLS = ("sync", "stream_full", "embeddings")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SilentCollector:
    """Accepts connections and never answers (a collector that hangs)."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(64)
        self.endpoint = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            self.connections.append(connection)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.socket.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        self.socket.close()
        for connection in self.connections:
            connection.close()


def _export_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "export" in line.lower()]


@dataclass
class TimedRun:
    """An app run to its end, with the time its calls took and the time from its last call to its exit."""

    returncode: int | None
    stdout: str
    stderr: str
    calls_seconds: float
    exit_seconds: float


def _run_timed(endpoint: str, base_url: str, env: dict[str, str], stderr_path: Path) -> TimedRun:
    """Run the OpenAI app under `opentelemetry-instrument`; its unbuffered "app done" line ends its calls."""
    environment = {**instrumented_environment(endpoint, base_url, env), "PYTHONUNBUFFERED": "1"}
    with (
        stderr_path.open("w+") as stderr,
        subprocess.Popen(
            launch("openai_app.py", "sync", "stream_full", "embeddings"),
            env=environment,
            cwd=str(REPO),
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        ) as process,
    ):
        watchdog = threading.Timer(120, process.kill)
        watchdog.start()
        assert process.stdout is not None
        stdout, calls_seconds, done_at = "", math.inf, math.inf
        for line in process.stdout:
            stdout += line
            if line.startswith("app done"):
                done_at = time.monotonic()
                calls_seconds = float(line.split("calls took ")[1].split()[0])
        process.wait()
        exited_at = time.monotonic()
        watchdog.cancel()
        stderr.seek(0)
        return TimedRun(process.returncode, stdout, stderr.read(), calls_seconds, exited_at - done_at)


@contextlib.contextmanager
def _collector(trouble: str) -> Iterator[str]:
    """The endpoint of a collector in trouble: refusing connections, hanging, answering 503 or 429, or slow."""
    if trouble == "refused":
        yield f"http://127.0.0.1:{_free_port()}"
    elif trouble == "hangs":
        silent = SilentCollector()
        try:
            yield silent.endpoint
        finally:
            silent.close()
    else:
        with OtlpReceiver() as receiver:
            receiver.status = int(trouble) if trouble.isdigit() else 200
            receiver.latency = SLOW_COLLECTOR_SECONDS if trouble == "slow" else 0.0
            yield receiver.endpoint


@pytest.mark.parametrize(
    ("trouble", "protocol"),
    [
        ("refused", "http/protobuf"),
        ("hangs", "http/protobuf"),
        ("503", "http/protobuf"),
        ("429", "http/protobuf"),
        ("slow", "http/protobuf"),
        ("refused", "grpc"),
    ],
)
def test_a_collector_in_trouble_slows_nothing_and_is_reported_in_a_few_clear_lines(
    server: OpenAIServer, trouble: str, protocol: str, tmp_path: Path
) -> None:
    with _collector(trouble) as endpoint:
        run = _run_timed(endpoint, server.base_url, {"OTEL_EXPORTER_OTLP_PROTOCOL": protocol}, tmp_path / "stderr")
    assert run.returncode == 0 and "app done" in run.stdout, run.stderr
    # exports ending the calls' spans in the calls would have held each call up (about 0.7 s for all three here)
    assert run.calls_seconds < len(APP_CALLS) * EXPORT_TIMEOUT_SECONDS, run
    # traces and logs held get one last attempt of 0.5 s at most, metrics one export bounded at 1 s; SDK 1.27 without
    # bounded retries: over 60 s (503, gRPC refused)
    assert run.exit_seconds <= 3.0, run
    lines = _export_lines(run.stderr)
    assert 1 <= len(lines) <= 3, run.stderr  # at most one line per signal
    shown = endpoint if protocol == "grpc" else f"{endpoint}/v1/"
    assert all(shown in line and "The app is not affected" in line for line in lines), run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize("trouble", ["refused", "503", "slow"])
def test_export_resumes_when_the_collector_recovers(server: OpenAIServer, trouble: str) -> None:
    port = _free_port()
    with contextlib.ExitStack() as stack:
        receiver = None if trouble == "refused" else stack.enter_context(OtlpReceiver(port))
        if receiver:
            receiver.status = 503 if trouble == "503" else 200
            receiver.latency = SLOW_COLLECTOR_SECONDS if trouble == "slow" else 0.0
        app = subprocess.Popen(
            launch("two_phase_app.py"),
            env=instrumented_environment(
                f"http://127.0.0.1:{port}", server.base_url, {"OTEL_BSP_SCHEDULE_DELAY": "50"}
            ),
            cwd=str(REPO),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        stack.callback(app.kill)
        assert app.stdout is not None and app.stderr is not None and app.stdin is not None
        assert app.stdout.readline().strip() == "waiting"
        # the first span's export fails: wait for that report, then bring the collector back
        for line in app.stderr:
            if "Could not export traces" in line:
                break
        if receiver:
            receiver.status, receiver.latency = 200, 0.0
        else:
            receiver = stack.enter_context(OtlpReceiver(port))
        app.stdin.write("go\n")
        app.stdin.flush()
        assert app.wait(timeout=60) == 0
        models = {s.attributes["gen_ai.request.model"] for s in receiver.spans}
    assert "m-after" in models


def test_the_filter_reports_once_per_signal_and_quiet_period() -> None:
    now = [1000.0]
    error_filter = ExportErrorFilter(clock=lambda: now[0])

    def record(message: str, name: str = "opentelemetry.exporter.otlp.common.http") -> logging.LogRecord:
        return logging.LogRecord(name, logging.WARNING, __file__, 1, message, None, None)

    first = record("Transient error X encountered while exporting metrics batch, retrying in 1s.")
    with exporting("metrics"):
        assert error_filter.filter(first)
        assert "Could not export metrics" in first.getMessage()
        assert not error_filter.filter(record("Transient error X encountered while exporting metrics batch"))
    with exporting("logs"):
        assert error_filter.filter(record("Transient error X encountered while exporting logs batch"))
    now[0] += QUIET_SECONDS + 1
    with exporting("metrics"):
        assert error_filter.filter(record("Failed to export metrics batch due to timeout, max retries or shutdown."))
    info = logging.LogRecord("x", logging.INFO, __file__, 1, "fine", None, None)
    assert error_filter.filter(info) and info.getMessage() == "fine"
    outside = record("Failed to export metrics batch due to timeout, max retries or shutdown.")
    assert error_filter.filter(outside) and outside.getMessage().startswith("Failed to export")  # not ours


def test_a_working_collector_logs_nothing(server: OpenAIServer) -> None:
    with OtlpReceiver() as receiver:
        result = run_instrumented("openai_app.py", "sync", receiver=receiver, base_url=server.base_url)
    assert _export_lines(result.stderr) == []


@pytest.mark.parametrize(("timeout", "limit"), [(0, 2), (1, 2), (2, 2), (3, 4), (10, 8), (15, 16)])
def test_the_retry_limit_keeps_the_waits_within_the_timeout(timeout: int, limit: int) -> None:
    assert retry_limit(timeout) == limit  # waits of 1, 2, 4 ... s, stopping at the limit: limit - 1 s in all


def test_exporters_before_1_35_retry_within_the_users_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "10")
    bounded_http = with_bounded_retries(HttpSpanExporter)
    bounded_grpc = with_bounded_retries(GrpcSpanExporter)
    assert with_bounded_retries(ConsoleSpanExporter) is ConsoleSpanExporter
    if not hasattr(HttpSpanExporter, "_MAX_RETRY_TIMEOUT"):  # 1.35 and later bound their retries themselves
        assert (bounded_http, bounded_grpc) == (HttpSpanExporter, GrpcSpanExporter)
        return
    assert issubclass(bounded_http, HttpSpanExporter) and issubclass(bounded_grpc, GrpcSpanExporter)
    assert bounded_http()._MAX_RETRY_TIMEOUT == 8  # waits 1 + 2 + 4 s, within the user's 10
    assert HttpSpanExporter._MAX_RETRY_TIMEOUT == 64
    grpc = bounded_grpc(endpoint=f"http://127.0.0.1:{_free_port()}")
    assert grpc._shutdown is False
    grpc.shutdown()
    assert grpc._shutdown is True
