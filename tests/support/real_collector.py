"""A real OpenTelemetry Collector that can be stopped and started again on the same ports (a collector restarting),
forwarding what it receives to a sink that stays up, so that what arrived before and after a restart is all counted.

The Collector is the Jaeger v2 binary `make backends` builds (an OpenTelemetry Collector distribution), running a
config written here: the otlp receiver (gRPC and HTTP) on free loopback ports → the batch processor → the otlp
exporter (gRPC) → an `OtlpReceiver` in the test process, for traces and for logs. `stop()` sends SIGTERM and waits
for the process to exit (the Collector drains its batch processor and exporter queue into the sink first); `start()`
runs a new process on the same ports and returns once it listens.
"""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path
from typing import Any

import yaml

from opentelemetry_instrumentation_kotaemon.cli.view import ExportedLogRecord, ExportedSpan
from tests.support.backends import Process, binary, unique_port, validate
from tests.support.otlp_receiver import OtlpReceiver, grpc_receiving
from tests.support.prometheus import wait_until

COMPONENTS = {"receivers": "otlp", "processors": "batch", "exporters": "otlp"}
"""The components the config uses, by kind."""


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _components(program: Path) -> dict[str, set[str]]:
    """The component names `<program> components` lists, by kind."""
    import subprocess

    listed = subprocess.run([str(program), "components"], capture_output=True, text=True, timeout=60, check=True)
    document: dict[str, Any] = yaml.safe_load(listed.stdout)
    return {kind: {entry["name"] for entry in document.get(kind) or []} for kind in COMPONENTS}


class RealCollector:
    """The Collector as the app's OTLP endpoint over `protocol` ("grpc" or "http/protobuf"); `spans` and `log_records`
    are those the sink received. `start()` and `stop()` as often as needed; `endpoint` stays the same."""

    def __init__(self, protocol: str, workdir: Path) -> None:
        self.protocol = protocol
        self.grpc_port, self.http_port = unique_port(), unique_port()
        self.port = self.grpc_port if protocol == "grpc" else self.http_port
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.sink = OtlpReceiver()
        self._workdir = workdir
        self._stack = contextlib.ExitStack()
        self._process: Process | None = None

    @property
    def spans(self) -> list[ExportedSpan]:
        return self.sink.spans

    @property
    def log_records(self) -> list[ExportedLogRecord]:
        return self.sink.logs

    def log(self) -> str:
        """The Collector's own output, over every start."""
        return self._process.log() if self._process is not None else ""

    def _config(self, sink_endpoint: str) -> dict[str, Any]:
        return {
            "receivers": {
                "otlp": {
                    "protocols": {
                        "grpc": {"endpoint": f"127.0.0.1:{self.grpc_port}"},
                        "http": {"endpoint": f"127.0.0.1:{self.http_port}"},
                    }
                }
            },
            "processors": {"batch": {"timeout": "200ms"}},
            "exporters": {"otlp": {"endpoint": sink_endpoint.removeprefix("http://"), "tls": {"insecure": True}}},
            "service": {
                "pipelines": {
                    signal: {"receivers": ["otlp"], "processors": ["batch"], "exporters": ["otlp"]}
                    for signal in ("traces", "logs")
                },
                "telemetry": {"metrics": {"level": "none"}, "logs": {"level": "warn"}},
            },
        }

    def __enter__(self) -> RealCollector:
        program = binary("jaeger")
        listed = _components(program)
        missing = {kind: name for kind, name in COMPONENTS.items() if name not in listed[kind]}
        assert not missing, f"{program.name} lacks {missing}"
        self._stack.enter_context(self.sink)
        sink_endpoint = self._stack.enter_context(grpc_receiving(self.sink))
        config = self._workdir / "collector.yaml"
        config.write_text(yaml.safe_dump(self._config(sink_endpoint)))
        checked = validate(program, config, {})
        assert checked.returncode == 0, checked.stdout + checked.stderr
        self._process = Process("collector", program, config, {}, self._workdir)
        try:
            self.start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def start(self) -> None:
        process = self._process
        assert process is not None
        process.start()
        wait_until(lambda: process.alive() and _listening(self.port), "the Collector to listen", timeout=30)

    def stop(self) -> None:
        """SIGTERM, and wait for the process to exit: it has then sent the sink everything it took."""
        process = self._process
        assert process is not None and process.process is not None
        process.stop()
        assert process.process.returncode == 0, f"the Collector did not stop cleanly:\n{process.log()[-4000:]}"

    def __exit__(self, *exc: object) -> None:
        try:
            if self._process is not None:
                self._process.stop()
        finally:
            self._stack.close()
