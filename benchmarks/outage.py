"""Memory and call latency of an instrumented app while its collector is away for two minutes.

Runs `opentelemetry-instrument python tests/apps/steady_app.py 20` (a chat call every 50 ms, each its own trace)
against the local OpenAI-compatible server and a restartable OTLP receiver, with the default settings: 30 s with
the collector up, 120 s with it stopped, then up again until everything held was delivered. Samples the app's
resident memory every second, and prints a Markdown report: the slowest call with the collector up and during the
outage, the memory held during the outage against the documented bound, the bytes per span of this traffic (the
arithmetic behind the default bound), and how many spans were lost.
Usage: `python benchmarks/outage.py [--protocol grpc] [--outage 120] [--output benchmarks/outage.md]` with the
environment's own interpreter.
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from opentelemetry.sdk.version import __version__ as sdk_version  # noqa: E402

from opentelemetry_instrumentation_kotaemon.settings import DEFAULT_EXPORT_RETRY_MAX_BYTES  # noqa: E402
from tests.support.e2e import REPO as APP_ROOT  # noqa: E402
from tests.support.e2e import instrumented_environment, launch  # noqa: E402
from tests.support.openai_server import OpenAIServer  # noqa: E402
from tests.support.restartable_collector import RestartableCollector  # noqa: E402

RATE = 20.0


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


class Sampler:
    """The app's resident memory, every second, labelled with the current phase."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.phase = "warm-up"
        self.samples: list[tuple[str, int]] = []
        self._stop = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            try:
                self.samples.append((self.phase, _rss_bytes(self.pid)))
            except OSError:
                return

    def peak(self, phase: str) -> int:
        return max((rss for p, rss in self.samples if p == phase), default=0)

    def stop(self) -> None:
        self._stop.set()


def _mark(process: subprocess.Popen[str]) -> float:
    """The slowest call since the last mark, in seconds."""
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write("mark\n")
    process.stdin.flush()
    line = process.stdout.readline()
    return float(line.split("slowest ")[1].split()[0])


def run(protocol: str, outage: float, up: float) -> dict[str, float]:
    with OpenAIServer() as server, RestartableCollector(protocol) as collector:
        env = {"OTEL_EXPORTER_OTLP_PROTOCOL": protocol, "PYTHONUNBUFFERED": "1"}
        process = subprocess.Popen(
            launch("steady_app.py", str(RATE)),
            env=instrumented_environment(collector.endpoint, server.base_url, env),
            cwd=str(APP_ROOT),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None and process.stdin is not None
        assert process.stdout.readline().strip() == "app started"
        sampler = Sampler(process.pid)
        time.sleep(10)
        _mark(process)
        sampler.phase = "up"
        time.sleep(up)
        slowest_up = _mark(process)
        sampler.phase = "outage"
        collector.stop()
        time.sleep(outage)
        slowest_outage = _mark(process)
        sampler.phase = "after"
        collector.start()
        spans_before = len(collector.spans)
        deadline = time.monotonic() + 60
        time.sleep(8)
        while time.monotonic() < deadline and len(collector.spans) < spans_before + RATE * outage:
            time.sleep(1)
        process.stdin.write("\n")
        process.stdin.flush()
        done = process.stdout.readline()
        _, stderr = process.communicate(timeout=60)
        sampler.stop()
        calls = int(done.split("app done: ")[1].split()[0])
        models = {span.attributes.get("gen_ai.request.model") for span in collector.spans}
        lost = sum(1 for n in range(calls) if f"m-{n}" not in models)
        wire = collector.trace_bytes()
    return {
        "slowest_up": slowest_up,
        "slowest_outage": slowest_outage,
        "rss_up": sampler.peak("up"),
        "rss_outage": sampler.peak("outage"),
        "calls": calls,
        "lost": lost,
        "bytes_per_span": wire / max(len(collector.spans), 1),
        "outage": outage,
        "stderr_lines": len([line for line in stderr.splitlines() if line.strip()]),
    }


def report(figures: dict[str, float], protocol: str, seconds: float) -> str:
    mib = 1024 * 1024
    held_spans = RATE * figures["outage"]
    held_bytes = held_spans * figures["bytes_per_span"]
    growth = figures["rss_outage"] - figures["rss_up"]
    bound = DEFAULT_EXPORT_RETRY_MAX_BYTES
    return "\n".join(
        [
            "# The collector away for two minutes",
            "",
            "Measured by `benchmarks/outage.py`: `opentelemetry-instrument python tests/apps/steady_app.py 20` (a chat",
            "call every 50 ms, each its own trace of one span) against the local OpenAI-compatible server and a",
            f"restartable OTLP receiver ({protocol}), default settings: 30 s with the collector up, "
            f"{figures['outage']:.0f} s with it stopped, then up again until everything held was delivered.",
            f"Python {platform.python_version()}, opentelemetry-sdk {sdk_version}; the run took {seconds:.0f} s.",
            "",
            "| | collector up | collector away |",
            "|---|---:|---:|",
            f"| slowest app call | {figures['slowest_up'] * 1000:.1f} ms | {figures['slowest_outage'] * 1000:.1f} ms |",
            f"| peak resident memory | {figures['rss_up'] / mib:.1f} MiB | {figures['rss_outage'] / mib:.1f} MiB |",
            "",
            f"- Spans lost: {figures['lost']:.0f} of {figures['calls']:.0f}.",
            f"- Bytes per span of this traffic, as sent (OTLP protobuf, batches of the SDK's default size): "
            f"{figures['bytes_per_span']:.0f}.",
            f"- Held during the outage: {held_spans:.0f} spans x {figures['bytes_per_span']:.0f} bytes = "
            f"{held_bytes / mib:.2f} MiB of payload; the default bound (`OTEL_KOTAEMON_EXPORT_RETRY_MAX_BYTES`) is "
            f"{bound / mib:.0f} MiB per signal, {bound / held_bytes:.0f} times that.",
            f"- Resident memory grew by {growth / mib:.1f} MiB during the outage (payload held plus what Python and "
            "the allocator keep); the bound is on the payload.",
            f"- Lines on standard error for the whole run: {figures['stderr_lines']:.0f} (one when the collector went "
            "away, one when delivery resumed, per signal exported).",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--protocol", default="http/protobuf", choices=["http/protobuf", "grpc"])
    parser.add_argument("--outage", type=float, default=120.0)
    parser.add_argument("--up", type=float, default=30.0)
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "outage.md")
    args = parser.parse_args()
    started = time.monotonic()
    figures = run(args.protocol, args.outage, args.up)
    text = report(figures, args.protocol, time.monotonic() - started)
    args.output.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
