"""How long an instrumented app takes to finish, and what it prints, when the collector is up, refuses, hangs, fails
or is slow.

Runs `opentelemetry-instrument python tests/apps/openai_app.py sync stream_full embeddings` (three model calls)
against the local OpenAI-compatible server, a few times per case, and prints a Markdown table of the median wall time
from start to exit, the median time from the app's last call to its exit, and the stderr lines.
Usage: `python benchmarks/collector_down.py [--runs N]` with the environment's own interpreter.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support.e2e import REPO as APP_ROOT  # noqa: E402
from tests.support.e2e import instrumented_environment, launch  # noqa: E402
from tests.support.openai_server import OpenAIServer  # noqa: E402
from tests.support.otlp_receiver import OtlpReceiver  # noqa: E402


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _hanging_collector() -> tuple[str, socket.socket]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}", listener


def _close(listener: socket.socket) -> None:
    with contextlib.suppress(OSError):
        listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
    listener.close()


def _run(endpoint: str, base_url: str, env: dict[str, str]) -> tuple[float, float, int]:
    environment = instrumented_environment(endpoint, base_url, {"OTEL_METRIC_EXPORT_INTERVAL": "60000", **env})
    started = time.monotonic()
    with (
        tempfile.TemporaryFile("w+") as stderr_file,
        subprocess.Popen(
            launch("openai_app.py", "sync", "stream_full", "embeddings"),
            env={**environment, "PYTHONUNBUFFERED": "1"},
            cwd=str(APP_ROOT),
            stdout=subprocess.PIPE,
            stderr=stderr_file,
            text=True,
        ) as process,
    ):
        assert process.stdout is not None
        calls_done = next((time.monotonic() for line in process.stdout if line.startswith("app done")), math.nan)
        process.wait(timeout=300)
        exited = time.monotonic()
        stderr_file.seek(0)
        stderr = stderr_file.read()
    lines = [line for line in stderr.splitlines() if "pkg_resources" not in line and line.strip()]
    return exited - started, exited - calls_done, len(lines)


@contextlib.contextmanager
def _receiver(status: int = 200, latency: float = 0.0) -> Iterator[str]:
    with OtlpReceiver() as receiver:
        receiver.status, receiver.latency = status, latency
        yield receiver.endpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    stock = {"OTEL_EXPORTER_OTLP_TIMEOUT": "10"}  # the SDK's own default, for comparison
    grpc = {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
    rows = []
    with OpenAIServer() as server, contextlib.ExitStack() as collectors:
        hanging, listener = _hanging_collector()
        collectors.callback(_close, listener)
        failing, overloaded, slow = (
            collectors.enter_context(_receiver(s, t)) for s, t in ((503, 0), (429, 0), (200, 10))
        )
        cases = [
            ("collector up", collectors.enter_context(_receiver()), {}),
            ("collector refuses connections", f"http://127.0.0.1:{_free_port()}", {}),
            ("collector refuses connections, gRPC", f"http://127.0.0.1:{_free_port()}", grpc),
            ("collector hangs (accepts, never answers)", hanging, {}),
            ("collector answers 503", failing, {}),
            ("collector answers 429", overloaded, {}),
            ("collector answers after 10 s", slow, {}),
            ("collector hangs, with the SDK's 10 s timeout", hanging, stock),
            ("collector answers 503, with the SDK's 10 s timeout", failing, stock),
        ]
        for title, endpoint, env in cases:
            runs = [_run(endpoint, server.base_url, env) for _ in range(args.runs)]
            rows.append((title, *(statistics.median(r[i] for r in runs) for i in (0, 1)), max(r[2] for r in runs)))
    print(f"Python {sys.version.split()[0]}, {args.runs} runs per case")
    print("| case | start to exit (median) | last call to exit (median) | stderr lines |")
    print("|---|---:|---:|---:|")
    for title, seconds, exit_seconds, lines in rows:
        print(f"| {title} | {seconds:.1f} s | {exit_seconds:.1f} s | {lines} |")


if __name__ == "__main__":
    main()
