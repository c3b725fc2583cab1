"""The spool on disk, with an app under `opentelemetry-instrument` and the collector down: stopped (SIGTERM), the app
leaves what it made in the spool and its next start sends it all; killed (SIGKILL), what it had spooled waits, and
`opentelemetry-kotaemon spool --send` delivers it. Each environment runs one scenario over gRPC and the other over
http/protobuf, the other way round in the other environment."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.version import __version__ as sdk_version

from opentelemetry_instrumentation_kotaemon.sdk.spool import waiting
from tests.support.e2e import REPO, instrumented_environment, launch
from tests.support.openai_server import OpenAIServer
from tests.support.otlp_receiver import OtlpReceiver, grpc_receiving

CALLS = 5
LOCK_SDK = tuple(int(part) for part in sdk_version.split(".")[:2]) < (1, 30)
RESTART_PROTOCOL, COMMAND_PROTOCOL = ("grpc", "http/protobuf") if LOCK_SDK else ("http/protobuf", "grpc")
SPAN_NAMES = [f"chat m-spool-{number}" for number in range(CALLS)]
LOG_BODIES = [f"call {number} answered" for number in range(CALLS)]


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as server:
        yield server


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def _collector(protocol: str, port: int) -> Iterator[OtlpReceiver]:
    """A receiver answering on `port` with `protocol`."""
    if protocol == "grpc":
        with OtlpReceiver() as receiver, grpc_receiving(receiver, port):
            yield receiver
    else:
        with OtlpReceiver(port) as receiver:
            yield receiver


def _environment(spool: Path, port: int, protocol: str, base_url: str, **env: str) -> dict[str, str]:
    return instrumented_environment(
        f"http://127.0.0.1:{port}",
        base_url,
        {
            "OTEL_KOTAEMON_SPOOL_DIR": str(spool),
            "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED": "true",
            "OTEL_BLRP_SCHEDULE_DELAY": "200",
            **env,
        },
    )


@contextlib.contextmanager
def _waiting_app(environment: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    """The app, started, its calls made; it then waits to be stopped (killed after a minute whatever happens)."""
    env = {**environment, "APP_CALLS": str(CALLS), "APP_WAIT": "1", "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(
        launch("spool_app.py"), env=env, cwd=str(REPO), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as app:
        watchdog = threading.Timer(60, app.kill)
        watchdog.start()
        try:
            assert app.stdout is not None
            assert app.stdout.readline().startswith("calls done"), app.communicate()[1]
            yield app
        finally:
            watchdog.cancel()
            app.kill()


def _spooled(spool: Path) -> dict[str, int]:
    return {signal: items for service in waiting(spool) for signal, items in service.items.items()}


def _received(receiver: OtlpReceiver, spans: int, logs: int) -> tuple[list[str], list[str]]:
    """The names of our spans and the bodies of the app's log records, once that many arrived."""
    receiver.wait_for_spans(spans)
    deadline = time.monotonic() + 10
    while len(receiver.logs) < logs and time.monotonic() < deadline:
        time.sleep(0.05)
    bodies = sorted(str(record.body) for record in receiver.logs if str(record.body).startswith("call "))
    return sorted(span.name for span in receiver.spans), bodies


def test_an_app_stopped_during_an_outage_sends_it_all_at_its_next_start(server: OpenAIServer, tmp_path: Path) -> None:
    port, spool = _free_port(), tmp_path / "spool"
    environment = _environment(spool, port, RESTART_PROTOCOL, server.base_url)
    with _waiting_app(environment) as app:
        app.send_signal(signal.SIGTERM)  # at once: the spans are still in the batch processor's queue
        _, stderr = app.communicate(timeout=30)
        assert app.returncode == 0, stderr
    spooled = _spooled(spool)
    assert spooled["traces"] == CALLS and spooled["logs"] >= CALLS, stderr
    assert str(spool) in stderr and "Traceback" not in stderr

    with _collector(RESTART_PROTOCOL, port) as receiver:
        restart = subprocess.run(
            launch("spool_app.py"), env=environment, cwd=str(REPO), capture_output=True, text=True, timeout=60
        )
        assert restart.returncode == 0, restart.stderr
        names, bodies = _received(receiver, CALLS, spooled["logs"])
        assert names == SPAN_NAMES and bodies == LOG_BODIES
        assert len(receiver.logs) >= spooled["logs"]
    assert _spooled(spool) == {}


def _spool_command(environment: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).with_name("opentelemetry-kotaemon")), "spool", *args]
    return subprocess.run(command, env=environment, cwd=str(REPO), capture_output=True, text=True, timeout=60)


def test_what_a_killed_app_spooled_is_delivered_by_the_spool_command(server: OpenAIServer, tmp_path: Path) -> None:
    port, spool = _free_port(), tmp_path / "spool"
    environment = _environment(spool, port, COMMAND_PROTOCOL, server.base_url)
    with _waiting_app(environment) as app:
        deadline = time.monotonic() + 20
        while _spooled(spool).get("traces", 0) < CALLS and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)  # the log records of the export failure lines, spooled after the spans
        app.send_signal(signal.SIGKILL)
        app.wait()
    spooled = _spooled(spool)
    assert spooled["traces"] == CALLS and spooled["logs"] >= CALLS

    listing = _spool_command(environment)
    assert listing.returncode == 0 and f"{CALLS} spans" in listing.stdout, listing
    collector_down = _spool_command(environment, "--send")
    assert collector_down.returncode == 1 and "did not take it" in collector_down.stderr, collector_down
    assert _spooled(spool) == spooled

    with _collector(COMMAND_PROTOCOL, port) as receiver:
        sent = _spool_command(environment, "--send")
        assert sent.returncode == 0, sent
        assert f"delivered {CALLS} spans, {spooled['logs']} log records" in sent.stdout
        names, bodies = _received(receiver, CALLS, spooled["logs"])
        assert names == SPAN_NAMES and bodies == LOG_BODIES
        assert len(receiver.logs) == spooled["logs"]
    assert _spooled(spool) == {}
    assert "nothing waiting" in _spool_command(environment).stdout
