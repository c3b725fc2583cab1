"""Steady traffic (20 traces and 20 log records a second) under `opentelemetry-instrument` while a real OpenTelemetry
Collector is restarted (SIGTERM, and a new process on the same ports after the outage): no span and no log record is
lost, no call waits, one line per signal when it went away and one when delivery resumed; exit with the collector down
stays fast and says what was not delivered.

Both protocols in both environments; the 2-minute outage runs once per environment (marked `long`)."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import opentelemetry.sdk.version
import pytest

from opentelemetry_instrumentation_kotaemon.sdk.delivery.delivery import MAX_BACKOFF
from opentelemetry_instrumentation_kotaemon.sdk.delivery.exporters import DEFAULT_EXPORT_TIMEOUT
from tests.support.e2e import REPO, instrumented_environment, launch
from tests.support.openai_server import OpenAIServer
from tests.support.real_collector import RealCollector
from tests.support.restartable_collector import RestartableCollector

LATEST_SDK = tuple(int(part) for part in opentelemetry.sdk.version.__version__.split(".")[:2]) >= (1, 35)
# the 2-minute outage once per environment, on the protocol the other environment runs short outages on
LONG_PROTOCOL = "grpc" if LATEST_SDK else "http/protobuf"
SIGNALS = {"traces": "spans", "logs": "log records"}
RESUMED = {
    signal: re.compile(rf"Export of {signal} to \S+ resumed: delivered [\d,]+ {items} held during a \d+ s outage")
    for signal, items in SIGNALS.items()
}
LOG_EXPORT = {"OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED": "true"}  # the SDK's switch, from 1.27 to 1.45
RUNS = [
    pytest.param("http/protobuf" if LATEST_SDK else "grpc", (6, 30), id="6s-30s"),
    pytest.param(LONG_PROTOCOL, (120,), id="120s", marks=pytest.mark.long),
]

# grpcio's own log lines, and the line its logging library prints before its first one
GRPC_CORE_LOG = re.compile(r"[IWE]\d{4} \d\d:\d\d:\d\d|WARNING: All log messages before absl::InitializeLog\(\)")


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as server:
        yield server


class SteadyApp:
    """`tests/apps/steady_app.py` under `opentelemetry-instrument`; `finish()` ends it and times its exit."""

    def __init__(
        self, endpoint: str, base_url: str, protocol: str, stderr_path: Path, env: dict[str, str] | None = None
    ) -> None:
        self._stderr_path = stderr_path
        self._stderr = stderr_path.open("w")
        env = {"OTEL_EXPORTER_OTLP_PROTOCOL": protocol, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.process = subprocess.Popen(
            launch("steady_app.py", "20"),
            env=instrumented_environment(endpoint, base_url, env),
            cwd=str(REPO),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "app started"

    def finish(self) -> tuple[int, float, float]:
        """End the app: (calls made, its slowest call in seconds, seconds from its last line to its exit)."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        done = time.monotonic()
        self.process.wait(timeout=60)
        exited = time.monotonic() - done
        self._stderr.close()
        found = re.match(r"app done: (\d+) calls, slowest ([\d.]+) s", line)
        assert found and self.process.returncode == 0, (line, self.stderr)
        return int(found.group(1)), float(found.group(2)), exited

    def wait_for_lines(self, pattern: re.Pattern[str], count: int, timeout: float = MAX_BACKOFF * 3 + 5) -> None:
        """Wait until the app has printed `count` lines matching `pattern`: the sender's longest wait and the gRPC
        channel's reconnection, then the time to send what was held."""
        deadline = time.monotonic() + timeout
        while len(pattern.findall(self.stderr)) < count:
            assert time.monotonic() < deadline, self.stderr
            time.sleep(0.2)

    @property
    def stderr(self) -> str:
        return self._stderr_path.read_text()


@pytest.mark.parametrize(("protocol", "outages"), RUNS)
def test_steady_traffic_loses_nothing_while_the_collector_restarts(
    server: OpenAIServer, protocol: str, outages: tuple[int, ...], tmp_path: Path
) -> None:
    with RealCollector(protocol, tmp_path) as collector:
        app = SteadyApp(collector.endpoint, server.base_url, protocol, tmp_path / "stderr", LOG_EXPORT)
        try:
            time.sleep(2)
            for number, outage in enumerate(outages, 1):
                collector.stop()
                time.sleep(outage)
                collector.start()
                for resumed in RESUMED.values():  # what was held is delivered: the next outage starts afresh
                    app.wait_for_lines(resumed, number)
            calls, slowest, _ = app.finish()
        finally:
            app.process.kill()
    # the Collector stopped, having sent the sink everything it took
    spans, logs = collector.spans, collector.log_records
    seeds = {span.attributes.get("gen_ai.request.seed") for span in spans}
    missing = [n for n in range(calls) if n not in seeds]
    bodies = {str(record.body) for record in logs}
    missing_logs = [n for n in range(calls) if f"answered {n}" not in bodies]
    repeated = len(spans) - len({span.span_id for span in spans})  # at-least-once: a resent batch may repeat
    print(
        f"{protocol}, outages {outages} s: {calls} calls, {len(spans)} spans ({repeated} repeated) and "
        f"{len(logs)} log records arrived"
    )
    assert not missing, (f"{len(missing)} of {calls} calls' spans lost", app.stderr)
    assert not missing_logs, (f"{len(missing_logs)} of {calls} calls' log records lost", app.stderr)
    assert calls >= 20 * (sum(outages) + 2)  # the app kept its pace: no call waited on export
    # a call that waited on an export attempt would take its timeout (1 s); the first call, on a loaded machine, can
    # take half of that by itself (the comparison with and without an outage is benchmarks/outage.py's)
    assert slowest < DEFAULT_EXPORT_TIMEOUT, slowest
    stderr = app.stderr
    for signal, resumed in RESUMED.items():
        assert stderr.count(f"Could not export {signal}") == len(outages), stderr
        assert len(resumed.findall(stderr)) == len(outages), stderr
    assert "not delivered" not in stderr and "Traceback" not in stderr, stderr


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_with_the_collector_down_at_exit_the_app_exits_within_3_s_and_says_what_was_not_delivered(
    server: OpenAIServer, protocol: str, tmp_path: Path
) -> None:
    with RestartableCollector(protocol) as collector:
        app = SteadyApp(collector.endpoint, server.base_url, protocol, tmp_path / "stderr")
        try:
            time.sleep(1)
            collector.stop()
            time.sleep(2)
            _, _, exit_seconds = app.finish()
        finally:
            app.process.kill()
    assert exit_seconds <= 3.0, (exit_seconds, app.stderr)
    lines = [line for line in app.stderr.splitlines() if "not delivered" in line]
    assert len(lines) == 1, app.stderr
    assert re.search(rf"[\d,]+ spans not delivered: the collector at {collector.endpoint} did not answer$", lines[0])
    others = [
        line
        for line in app.stderr.splitlines()
        if line.strip()
        and line not in lines
        and not line.startswith("Could not export")
        and "pkg_resources" not in line
        and not GRPC_CORE_LOG.match(line)  # grpcio's own log (a GOAWAY from the stopping receiver)
    ]
    assert not others, app.stderr  # e.g. no SDK complaint about our counters at exit
