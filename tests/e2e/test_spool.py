"""The spool on disk, with an app under `opentelemetry-instrument` and the collector down: stopped (SIGTERM), the app
leaves what it made in the spool and its next start sends it all (a corrupt file beside it skipped with a warning);
killed (SIGKILL), what it had spooled waits, and `opentelemetry-kotaemon spool --send` delivers it; a spool directory
that cannot be created: one warning, and the batches are held in memory and delivered when the collector is back; a
batch the collector rejects is deleted by the command, which says so and exits 1.
Each environment runs the first two over gRPC and http/protobuf, the other way round in the other environment."""

from __future__ import annotations

import contextlib
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.version import __version__ as sdk_version

from opentelemetry_instrumentation_kotaemon.sdk.delivery.store import Batch
from opentelemetry_instrumentation_kotaemon.sdk.spool import SpoolStore, waiting
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
def _waiting_app(environment: dict[str, str], stderr: Path) -> Iterator[subprocess.Popen[str]]:
    """The app, started, its calls made; it then waits to be stopped (killed after a minute whatever happens). Its
    stderr goes to the file `stderr`."""
    env = {**environment, "APP_CALLS": str(CALLS), "APP_WAIT": "1", "PYTHONUNBUFFERED": "1"}
    with (
        stderr.open("w") as errors,
        subprocess.Popen(
            launch("spool_app.py"), env=env, cwd=str(REPO), stdout=subprocess.PIPE, stderr=errors, text=True
        ) as app,
    ):
        watchdog = threading.Timer(60, app.kill)
        watchdog.start()
        try:
            assert app.stdout is not None
            assert app.stdout.readline().startswith("calls done"), stderr.read_text()
            yield app
        finally:
            watchdog.cancel()
            app.kill()


def _wait_for(condition: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)


def _spooled(spool: Path) -> dict[str, int]:
    return {signal: items for service in waiting(spool) for signal, items in service.items.items()}


def _received(receiver: OtlpReceiver, spans: int, logs: int) -> tuple[list[str], list[str]]:
    """The names of our spans and the bodies of the app's log records, once that many arrived."""
    receiver.wait_for_spans(spans, timeout=20)
    _wait_for(lambda: len(receiver.logs) >= logs)
    bodies = sorted(str(record.body) for record in receiver.logs if str(record.body).startswith("call "))
    return sorted(span.name for span in receiver.spans), bodies


def test_an_app_stopped_during_an_outage_sends_it_all_at_its_next_start(server: OpenAIServer, tmp_path: Path) -> None:
    port, spool = _free_port(), tmp_path / "spool"
    environment = _environment(spool, port, RESTART_PROTOCOL, server.base_url)
    with _waiting_app(environment, tmp_path / "stderr") as app:
        app.send_signal(signal.SIGTERM)  # at once: the spans are still in the batch processor's queue
        app.wait(30)
    stderr = (tmp_path / "stderr").read_text()
    assert app.returncode == 0, stderr
    spooled = _spooled(spool)
    assert spooled["traces"] == CALLS and spooled["logs"] >= CALLS, stderr
    assert str(spool) in stderr and "Traceback" not in stderr
    left_by_the_app = next(path for path in spool.rglob("lock")).parent
    corrupt = left_by_the_app / "00000000000000001-0-00000000.traces.batch"
    corrupt.write_bytes(b"not a batch")

    with _collector(RESTART_PROTOCOL, port) as receiver:
        restart = subprocess.run(
            launch("spool_app.py"), env=environment, cwd=str(REPO), capture_output=True, text=True, timeout=60
        )
        assert restart.returncode == 0, restart.stderr
        assert [line for line in restart.stderr.splitlines() if corrupt.name in line] != []
        assert "Traceback" not in restart.stderr
        assert re.search(r"delivered [\d,]+ spans that earlier processes of this service left in", restart.stderr)
        names, bodies = _received(receiver, CALLS, spooled["logs"])
        assert names == SPAN_NAMES and bodies == LOG_BODIES
        assert len(receiver.logs) >= spooled["logs"]
    assert _spooled(spool) == {}
    assert (corrupt.parent.parent / "corrupt" / corrupt.name).read_bytes() == b"not a batch"


def _spool_command(environment: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).with_name("opentelemetry-kotaemon")), "spool", *args]
    return subprocess.run(command, env=environment, cwd=str(REPO), capture_output=True, text=True, timeout=60)


def test_what_a_killed_app_spooled_is_delivered_by_the_spool_command(server: OpenAIServer, tmp_path: Path) -> None:
    port, spool = _free_port(), tmp_path / "spool"
    environment = _environment(spool, port, COMMAND_PROTOCOL, server.base_url)
    with _waiting_app(environment, tmp_path / "stderr") as app:
        _wait_for(lambda: _spooled(spool).get("traces", 0) >= CALLS)
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


def test_a_spool_directory_that_cannot_be_created_leaves_delivery_in_memory(
    server: OpenAIServer, tmp_path: Path
) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    port = _free_port()
    environment = _environment(a_file / "spool", port, "http/protobuf", server.base_url)
    stderr_path = tmp_path / "stderr"
    with _waiting_app(environment, stderr_path) as app:
        _wait_for(lambda: "Could not export traces" in stderr_path.read_text())
        with _collector("http/protobuf", port) as receiver:
            names, bodies = _received(receiver, CALLS, CALLS)
            app.send_signal(signal.SIGTERM)
            app.wait(30)
    stderr = stderr_path.read_text()
    assert app.returncode == 0, stderr
    assert names == SPAN_NAMES and bodies == LOG_BODIES
    assert len([line for line in stderr.splitlines() if "OTEL_KOTAEMON_SPOOL_DIR" in line]) == 1, stderr
    assert "Traceback" not in stderr


def test_the_spool_command_deletes_what_the_collector_rejects_and_says_so(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    ended = SpoolStore(spool, "e2e-app", 1 << 20, 3600.0)
    ended.put(Batch("traces", ExportTraceServiceRequest().SerializeToString(), 3, time.time()))
    ended.close()
    with OtlpReceiver() as receiver:
        receiver.status = 400
        port = int(receiver.endpoint.rsplit(":", 1)[1])
        rejected = _spool_command(_environment(spool, port, "http/protobuf", ""), "--send")
    assert rejected.returncode == 1, rejected
    assert "rejected 3 spans (HTTP 400" in rejected.stderr and "deleted" in rejected.stderr
    assert _spooled(spool) == {}
