"""An unchanged FastAPI app served by uvicorn under `opentelemetry-instrument` (Kotaemon's UI stack): the debug header
forces a trace past a sampler that keeps nothing, and `--workers` processes export everything when the server stops.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.e2e import APPS, REPO, instrumented_environment
from tests.support.openai_server import OpenAIServer
from tests.support.otlp_receiver import OtlpReceiver, Span

SERVER = 2  # SpanKind.SERVER in OTLP
ADDRESS = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")


class WebApp:
    """`opentelemetry-instrument uvicorn web_app:app` on a port of its choosing, in a session of its own."""

    def __init__(self, receiver: OtlpReceiver, base_url: str, env: dict[str, str], *uvicorn_args: str) -> None:
        command = [
            str(Path(sys.executable).with_name("opentelemetry-instrument")),
            str(Path(sys.executable).with_name("uvicorn")),
            *("--app-dir", str(APPS), "web_app:app", "--host", "127.0.0.1", "--port", "0", *uvicorn_args),
        ]
        self.process = subprocess.Popen(
            command,
            env=instrumented_environment(receiver.endpoint, base_url, env),
            cwd=str(REPO),
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.stderr: list[str] = []
        self._port: list[int] = []
        self._started = threading.Event()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        assert self._started.wait(60) and self._port, "uvicorn did not start:\n" + "".join(self.stderr)
        self.url = f"http://127.0.0.1:{self._port[0]}"
        self._wait_until_listening()

    def _wait_until_listening(self) -> None:
        """With `--workers`, the address is bound before any worker listens on it (uvicorn says nothing then)."""
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", self._port[0]), timeout=5).close()
                return
            except ConnectionRefusedError:
                assert time.monotonic() < deadline and self.process.poll() is None, "".join(self.stderr)
                time.sleep(0.05)

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr.append(line)
            found = ADDRESS.search(line)
            if found and not self._port:
                self._port.append(int(found.group(1)))
                self._started.set()
        self._started.set()

    def ask(self, model: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
        """`GET /ask?model=...`."""
        request = urllib.request.Request(f"{self.url}/ask?model={model}", headers=headers or {})
        with urllib.request.urlopen(request, timeout=60) as response:
            answer: dict[str, Any] = json.load(response)
            return answer

    def stop(self, sig: signal.Signals) -> int:
        """Send `sig` to the server (only to its main process), wait for the exit, and return the exit code."""
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            raise AssertionError("uvicorn did not stop:\n" + "".join(self.stderr)) from None

    def kill(self) -> None:
        """Ends the server and its workers if a test left them running."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as server:
        yield server


def _model_span(receiver: OtlpReceiver, model: str) -> Span:
    (span,) = [s for s in receiver.spans if s.attributes.get("gen_ai.request.model") == model]
    return span


def _parent(receiver: OtlpReceiver, span: Span) -> Span:
    (parent,) = [s for s in receiver.spans if s.span_id == span.parent_id]
    return parent


def _requests_measured(receiver: OtlpReceiver) -> int:
    return sum(p.count or 0 for p in receiver.points if p.metric == "gen_ai.client.operation.duration")


def test_debug_header_forces_the_request_trace_past_a_sampler_that_keeps_nothing(server: OpenAIServer) -> None:
    env = {"OTEL_TRACES_SAMPLER": "kotaemon_ratio", "OTEL_TRACES_SAMPLER_ARG": "0"}
    requests = {
        "m-plain": {},
        "m-debug": {"X-Debug-Tracing": "true"},
        "m-not-debug": {"X-Debug-Tracing": "false"},
        "m-baggage": {"baggage": "kotaemon.debug=true"},
    }
    with OtlpReceiver() as receiver:
        app = WebApp(receiver, server.base_url, env)
        try:
            for model, headers in requests.items():
                app.ask(model, headers)
            assert app.stop(signal.SIGTERM) == -signal.SIGTERM  # uvicorn ends by raising the signal again
        finally:
            app.kill()
        chats = sorted(s.attributes["gen_ai.request.model"] for s in receiver.spans if s.name.startswith("chat "))
        assert chats == ["m-baggage", "m-debug"]
        debug = _model_span(receiver, "m-debug")
        request = _parent(receiver, debug)
        assert (request.name, request.kind, request.parent_id) == ("GET /ask", SERVER, "")
        assert request.attributes["http.request.header.x_debug_tracing"] == ["true"]  # our distro's default
        kept_traces = {debug.trace_id, _model_span(receiver, "m-baggage").trace_id}
        assert {s.trace_id for s in receiver.spans} == kept_traces
        assert _requests_measured(receiver) == len(requests)  # metrics count every request, sampled or not
    assert "Traceback" not in "".join(app.stderr)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_uvicorn_workers_export_every_request_when_the_server_stops(server: OpenAIServer, sig: signal.Signals) -> None:
    env = {
        "OTEL_EXPERIMENTAL_RESOURCE_DETECTORS": "otel,process",  # process.pid on every span
        "OTEL_BSP_SCHEDULE_DELAY": "600000",  # nothing leaves a worker before it is stopped
    }
    # two instrumented workers starting at once on a busy machine may answer uvicorn's first ping after its default 5 s
    arguments = ("--workers", "2", "--timeout-worker-healthcheck", "60")
    with OtlpReceiver() as receiver:
        app = WebApp(receiver, server.base_url, env, *arguments)
        served_by: dict[str, int] = {}
        try:
            deadline = time.monotonic() + 60
            while len(set(served_by.values())) < 2 and time.monotonic() < deadline:
                model = f"m-{len(served_by)}"
                served_by[model] = app.ask(model)["pid"]
            assert receiver.spans == []
            assert app.stop(sig) == 0
        finally:
            app.kill()
        workers = set(served_by.values())
        assert len(workers) == 2 and app.process.pid not in workers, served_by
        for model, pid in served_by.items():
            chat = _model_span(receiver, model)
            request = _parent(receiver, chat)
            assert (request.name, request.kind, request.trace_id) == ("GET /ask", SERVER, chat.trace_id)
            assert chat.resource["process.pid"] == request.resource["process.pid"] == pid
        assert _requests_measured(receiver) == len(served_by)
    stderr = "".join(app.stderr)
    assert "Traceback" not in stderr and "died" not in stderr, stderr
