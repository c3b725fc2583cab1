"""The collector is down, or never answers: the app runs as usual, a few clear lines say so, export resumes."""

from __future__ import annotations

import contextlib
import logging
import socket
import subprocess
import threading
from collections.abc import Iterator

import pytest

from opentelemetry_instrumentation_kotaemon.export_errors import QUIET_SECONDS, ExportErrorFilter
from tests.support.e2e import REPO, instrumented_environment, launch, run_instrumented
from tests.support.openai_server import OpenAIServer
from tests.support.otlp_receiver import OtlpReceiver


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as server:
        yield server


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


@pytest.mark.parametrize("collector", ["refused", "silent"])
def test_collector_down_is_reported_in_a_few_clear_lines(server: OpenAIServer, collector: str) -> None:
    silent = SilentCollector() if collector == "silent" else None
    endpoint = silent.endpoint if silent else f"http://127.0.0.1:{_free_port()}"
    try:
        result = subprocess.run(
            launch("openai_app.py", "sync", "stream_full", "embeddings"),
            env=instrumented_environment(endpoint, server.base_url),
            cwd=str(REPO),
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        if silent:
            silent.close()
    assert result.returncode == 0 and "app done" in result.stdout
    lines = _export_lines(result.stderr)
    assert 1 <= len(lines) <= 3, result.stderr  # at most one line per signal
    assert all(f"{endpoint}/v1/" in line and "The app is not affected" in line for line in lines)
    assert "Traceback" not in result.stderr


def test_export_resumes_when_the_collector_comes_back(server: OpenAIServer) -> None:
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    app = subprocess.Popen(
        launch("two_phase_app.py"),
        env=instrumented_environment(endpoint, server.base_url, {"OTEL_BSP_SCHEDULE_DELAY": "50"}),
        cwd=str(REPO),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert app.stdout is not None and app.stderr is not None and app.stdin is not None
    try:
        assert app.stdout.readline().strip() == "waiting"
        # the first span's export fails while nothing listens: wait for that report, then bring the collector up
        for line in app.stderr:
            if "Could not export traces" in line:
                break
        with OtlpReceiver(port) as receiver:
            app.stdin.write("go\n")
            app.stdin.flush()
            assert app.wait(timeout=60) == 0
            models = {s.attributes["gen_ai.request.model"] for s in receiver.spans}
    finally:
        app.kill()
    assert "m-after" in models


def test_the_filter_reports_once_per_signal_and_quiet_period() -> None:
    now = [1000.0]
    error_filter = ExportErrorFilter(clock=lambda: now[0])

    def record(message: str, name: str = "opentelemetry.exporter.otlp.common.http") -> logging.LogRecord:
        return logging.LogRecord(name, logging.WARNING, __file__, 1, message, None, None)

    first = record("Transient error X encountered while exporting spans batch, retrying in 1s.")
    assert error_filter.filter(first)
    assert "Could not export traces" in first.getMessage()
    assert not error_filter.filter(record("Transient error X encountered while exporting spans batch"))
    assert error_filter.filter(record("Transient error X encountered while exporting metrics batch"))
    now[0] += QUIET_SECONDS + 1
    assert error_filter.filter(record("Failed to export spans batch due to timeout, max retries or shutdown."))
    info = logging.LogRecord("x", logging.INFO, __file__, 1, "fine", None, None)
    assert error_filter.filter(info) and info.getMessage() == "fine"


def test_a_working_collector_logs_nothing(server: OpenAIServer) -> None:
    with OtlpReceiver() as receiver:
        result = run_instrumented("openai_app.py", "sync", receiver=receiver, base_url=server.base_url)
    assert _export_lines(result.stderr) == []
