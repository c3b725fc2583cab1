"""How long an instrumented app takes to finish, and what it prints, when the collector is up, refuses, or hangs.

Runs `opentelemetry-instrument python tests/apps/openai_app.py sync stream_full embeddings` (three model calls)
against the local OpenAI-compatible server, a few times per case, and prints a Markdown table of median wall time
and stderr lines. Usage: `python benchmarks/collector_down.py [--runs N]` with the environment's own interpreter.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import statistics
import subprocess
import sys
import threading
import time
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


def _run(endpoint: str, base_url: str, env: dict[str, str]) -> tuple[float, int]:
    started = time.monotonic()
    result = subprocess.run(
        launch("openai_app.py", "sync", "stream_full", "embeddings"),
        env=instrumented_environment(endpoint, base_url, {"OTEL_METRIC_EXPORT_INTERVAL": "60000", **env}),
        cwd=str(APP_ROOT),
        capture_output=True,
        text=True,
        timeout=300,
    )
    seconds = time.monotonic() - started
    lines = [line for line in result.stderr.splitlines() if "pkg_resources" not in line and line.strip()]
    return seconds, len(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    stock = {"OTEL_EXPORTER_OTLP_TIMEOUT": "10"}  # the SDK's own default, for comparison
    rows = []
    with OpenAIServer() as server, OtlpReceiver() as receiver:
        hanging, listener = _hanging_collector()
        cases = [
            ("collector up", receiver.endpoint, {}),
            ("collector refuses connections", f"http://127.0.0.1:{_free_port()}", {}),
            ("collector hangs", hanging, {}),
            ("collector refuses, SDK default timeout", f"http://127.0.0.1:{_free_port()}", stock),
            ("collector hangs, SDK default timeout", hanging, stock),
        ]
        for title, endpoint, env in cases:
            runs = [_run(endpoint, server.base_url, env) for _ in range(args.runs)]
            rows.append((title, statistics.median(r[0] for r in runs), max(r[1] for r in runs)))
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)
        listener.close()
    print(f"Python {sys.version.split()[0]}, {args.runs} runs per case")
    print("| case | wall time to exit (median) | stderr lines |")
    print("|---|---:|---:|")
    for title, seconds, lines in rows:
        print(f"| {title} | {seconds:.1f} s | {lines} |")


if __name__ == "__main__":
    main()
