"""Call latency and memory of an instrumented app while its collector is away for two minutes, against the same
length of time with it up.

Runs `opentelemetry-instrument python tests/apps/steady_app.py 20` (a chat call every 50 ms, each its own trace)
against the local OpenAI-compatible server and a restartable OTLP receiver, with the default settings (but the 200 ms
batch delay of our end-to-end tests): after a 10 s warm-up, a window with the collector up, then a window of the same
length with it stopped, then up again until everything held was delivered. The app reports, per window, the median,
99th percentile and slowest call, its longest garbage collection pause and the slowest call that held no full
collection (the app's first full collection falls in one window or the other, whatever the collector does). Samples
the app's resident memory every second. Prints a Markdown report: latency per window and run, the memory held during
the outage against the documented bound, the bytes per span of this traffic (the arithmetic behind the default
bound), how many spans were lost, and the lines on standard error. The report has a section per environment: a run
replaces its own environment's section (by Python version) and keeps the others'.
`--controls N` adds N runs per protocol in which the collector stays up in the second window too: what that window
is like without an outage (the app's first full collection, the machine's load).
Usage: `python benchmarks/outage.py [--protocol http/protobuf --protocol grpc] [--runs 2] [--controls 1]
[--outage 120] [--output benchmarks/outage.md] [--setting NAME=VALUE]` with the environment's own interpreter.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
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
WARM_UP = 10.0
"""Seconds before the first window: imports, first connections and caches settle."""


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


@dataclass(frozen=True)
class Window:
    """The app's calls in one window, in seconds."""

    p50: float
    p99: float
    slowest: float
    longest_gc: float
    full_collections: int
    slowest_without_full: float
    probe_stall: float


PROBE = """
import sys, threading, time

longest = 0.0


def wake():
    global longest
    while True:
        started = time.monotonic()
        time.sleep(0.005)
        longest = max(longest, time.monotonic() - started - 0.005)


threading.Thread(target=wake, daemon=True).start()
for line in sys.stdin:
    if line.strip() != "mark":
        break
    print(f"{longest:.4f}", flush=True)
    longest = 0.0
"""
"""A process that wakes every 5 ms and, at each mark, prints how late it woke at worst since the last one: how long
the machine kept a process that wanted the CPU from it, the floor under the app's slowest call."""


def _ask(process: subprocess.Popen[str]) -> str:
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write("mark\n")
    process.stdin.flush()
    return process.stdout.readline()


def _mark(process: subprocess.Popen[str], probe: subprocess.Popen[str]) -> Window:
    """The calls since the last mark."""
    line = _ask(process)
    probe_stall = float(_ask(probe))
    found = re.search(
        r"slowest ([\d.]+) s, p50 ([\d.]+) s, p99 ([\d.]+) s, longest gc ([\d.]+) s, full gcs (\d+), "
        r"slowest without a full gc ([\d.]+) s",
        line,
    )
    assert found, line
    slowest, p50, p99, longest_gc, full, without_full = (float(value) for value in found.groups())
    return Window(p50, p99, slowest, longest_gc, int(full), without_full, probe_stall)


@dataclass(frozen=True)
class Run:
    """One run's figures."""

    protocol: str
    up: Window
    away: Window
    rss_up: int
    rss_away: int
    calls: int
    lost: int
    bytes_per_span: float
    stderr_lines: int
    seconds: float
    control: bool = False
    """The collector stayed up in the second window too: what the second window is like without an outage."""


def run(protocol: str, outage: float, settings: dict[str, str], control: bool = False) -> Run:
    started = time.monotonic()
    with OpenAIServer() as server, RestartableCollector(protocol) as collector:
        env = {"OTEL_EXPORTER_OTLP_PROTOCOL": protocol, "PYTHONUNBUFFERED": "1", **settings}
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
        probe = subprocess.Popen(
            [sys.executable, "-c", PROBE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        time.sleep(WARM_UP)
        _mark(process, probe)
        sampler.phase = "up"
        time.sleep(outage)
        up = _mark(process, probe)
        sampler.phase = "outage"
        if not control:
            collector.stop()
        time.sleep(outage)
        away = _mark(process, probe)
        probe.communicate("\n", timeout=10)
        sampler.phase = "after"
        if not control:
            collector.start()
        spans_before = len(collector.spans)
        deadline = time.monotonic() + (60 if not control else 0)
        time.sleep(8)
        while time.monotonic() < deadline and len(collector.spans) < spans_before + RATE * outage:
            time.sleep(1)
        process.stdin.write("\n")
        process.stdin.flush()
        done = process.stdout.readline()
        _, stderr = process.communicate(timeout=60)
        sampler.stop()
        calls = int(done.split("app done: ")[1].split()[0])
        seeds = {span.attributes.get("gen_ai.request.seed") for span in collector.spans}
        lost = sum(1 for n in range(calls) if n not in seeds)
        wire = collector.trace_bytes()
    return Run(
        protocol=protocol,
        up=up,
        away=away,
        rss_up=sampler.peak("up"),
        rss_away=sampler.peak("outage"),
        calls=calls,
        lost=lost,
        bytes_per_span=wire / max(len(collector.spans), 1),
        stderr_lines=len([line for line in stderr.splitlines() if line.strip()]),
        seconds=time.monotonic() - started,
        control=control,
    )


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def _latency_summary(runs: list[Run]) -> list[str]:
    """What the latency table says: the outage windows against the up windows of every run."""
    within = sum(1 for r in runs if r.away.slowest <= r.up.slowest)
    up_gc = sum(1 for r in runs if r.up.longest_gc >= r.up.slowest / 2)
    away_gc = sum(1 for r in runs if r.away.longest_gc >= r.away.slowest / 2)
    within_clean = sum(1 for r in runs if r.away.slowest_without_full <= r.up.slowest_without_full)
    return [
        f"- Slowest call: {_span([r.up.slowest for r in runs])} with the collector up, "
        f"{_span([r.away.slowest for r in runs])} with it away; the outage window's slowest call was "
        f"no slower than the same run's up window in {within} of {len(runs)} runs.",
        f"- 99th percentile: {_span([r.up.p99 for r in runs])} up, {_span([r.away.p99 for r in runs])} away. "
        f"Median: {_span([r.up.p50 for r in runs])} up, {_span([r.away.p50 for r in runs])} away.",
        f"- Windows whose slowest call came with a GC pause of at least half its length: {up_gc} of {len(runs)} up, "
        f"{away_gc} of {len(runs)} away. Full collections: "
        + ", ".join(f"{r.up.full_collections} / {r.away.full_collections}" for r in runs)
        + " (up / away, per run): the app's heap grows for a while after its start, and its first full collection "
        "falls in one window or the other.",
        f"- Slowest call that held no full collection: {_span([r.up.slowest_without_full for r in runs])} up, "
        f"{_span([r.away.slowest_without_full for r in runs])} away; no slower away than up in {within_clean} of "
        f"{len(runs)} runs.",
        "- Slowest call against the probe's longest stall, away: "
        + ", ".join(f"{_ms(r.away.slowest)} / {_ms(r.away.probe_stall)}" for r in runs)
        + " ms; up: "
        + ", ".join(f"{_ms(r.up.slowest)} / {_ms(r.up.probe_stall)}" for r in runs)
        + " ms.",
    ]


def _span(values: list[float]) -> str:
    """The lowest to the highest of `values` (seconds), in ms."""
    return f"{_ms(min(values))} to {_ms(max(values))} ms"


def _head(outage: float) -> list[str]:
    """The report's title and method, common to every environment's section."""
    return [
        f"# The collector away for {outage:.0f} s, against {outage:.0f} s with it up",
        "",
        "Measured by `benchmarks/outage.py`: `opentelemetry-instrument python tests/apps/steady_app.py 20` "
        "(a chat call every 50 ms, each its own trace of one span) against the local OpenAI-compatible server and a "
        "restartable OTLP receiver, default settings but the 200 ms batch delay of our end-to-end tests. After a "
        f"{WARM_UP:.0f} s warm-up: {outage:.0f} s with the collector up, then {outage:.0f} s with it stopped "
        "(windows of the same length, so each sees as many calls), then up again until everything held was "
        f"delivered. One section per environment, each run with the environment's own interpreter; {os.cpu_count()} "
        "cores shared with other work.",
        "",
    ]


def _section_title() -> str:
    """This environment's section heading, up to the figures that vary between reruns."""
    return f"## Python {platform.python_version()}, opentelemetry-sdk {sdk_version}"


def _python_version(section: str) -> tuple[int, ...]:
    """The Python version a section's heading names (empty for another block)."""
    found = re.match(r"## Python ([\d.]+)", section)
    return tuple(int(part) for part in found.group(1).split(".")) if found else ()


def merged(existing: str, section: str, outage: float) -> str:
    """The report with this environment's section (same Python minor version) replaced or added, the others kept."""
    kept = [
        block.rstrip("\n") + "\n"
        for block in re.split(r"^(?=## )", existing, flags=re.MULTILINE)[1:]
        if _python_version(block)[:2] != sys.version_info[:2]
    ]
    sections = sorted([*kept, section], key=_python_version, reverse=True)  # the newest Python first
    return "\n".join(["\n".join(_head(outage)), *sections])


def _window_cells(window: Window) -> str:
    values = (
        window.p50,
        window.p99,
        window.slowest,
        window.longest_gc,
        window.slowest_without_full,
        window.probe_stall,
    )
    return " | ".join(_ms(value) for value in values)


def _latency_table(runs: list[Run], first: str, second: str) -> list[str]:
    """A row per run: its two windows' latency figures, headed `first` and `second`."""
    columns = "p50 | p99 | slowest | longest GC | no full GC | probe"
    lines = [
        f"| protocol | run | {first}: {columns} | {second}: {columns} |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    numbered: dict[str, int] = {}
    for r in runs:
        numbered[r.protocol] = numbered.get(r.protocol, 0) + 1
        lines.append(f"| {r.protocol} | {numbered[r.protocol]} | {_window_cells(r.up)} | {_window_cells(r.away)} |")
    return lines


def _control_section(runs: list[Run], controls: list[Run]) -> list[str]:
    """The runs without an outage: how the second window differs from the first when the collector stays up, and the
    outage windows against those second windows (the same point of the app's life, with and without an outage)."""
    if not controls:
        return []
    lines = [
        "### Control: the collector up in both windows",
        "",
        "The same app and windows, the collector never stopped: what the second window is like without an outage.",
        "",
        *_latency_table(controls, "first", "second"),
    ]
    no_slower = sum(1 for r in controls if r.away.slowest_without_full <= r.up.slowest_without_full)
    lines += [
        "",
        "- Full collections (first / second, per run): "
        + ", ".join(f"{r.up.full_collections} / {r.away.full_collections}" for r in controls)
        + ". Slowest call that held no full collection (first / second): "
        + ", ".join(f"{_ms(r.up.slowest_without_full)} / {_ms(r.away.slowest_without_full)}" for r in controls)
        + f" ms; the second no slower than the first in {no_slower} of {len(controls)} runs. Median (first / "
        "second): " + ", ".join(f"{_ms(r.up.p50)} / {_ms(r.away.p50)}" for r in controls) + " ms.",
    ]
    if runs:
        lines.append(
            "- The outage window against the control's second window, with / without an outage: slowest call "
            f"{_span([r.away.slowest for r in runs])} / {_span([r.away.slowest for r in controls])}; slowest that "
            f"held no full collection {_span([r.away.slowest_without_full for r in runs])} / "
            f"{_span([r.away.slowest_without_full for r in controls])}; 99th percentile "
            f"{_span([r.away.p99 for r in runs])} / {_span([r.away.p99 for r in controls])}; median "
            f"{_span([r.away.p50 for r in runs])} / {_span([r.away.p50 for r in controls])}."
        )
    return [*lines, ""]


def report(all_runs: list[Run], outage: float, settings: dict[str, str]) -> str:
    """This environment's section of the report."""
    runs = [r for r in all_runs if not r.control]
    controls = [r for r in all_runs if r.control]
    mib = 1024 * 1024
    bound = DEFAULT_EXPORT_RETRY_MAX_BYTES
    held_spans = RATE * outage
    lines = [
        f"{_section_title()}{''.join(f', {name}={value}' for name, value in settings.items())}: {len(runs)} runs"
        + (f" and {len(controls)} without an outage" if controls else "")
        + f", {sum(r.seconds for r in all_runs) / 60:.0f} min",
        "",
        "### App call latency, ms",
        "",
        *_latency_table(runs, "up", "away"),
    ]
    lines += [
        "",
        "Longest GC: the app's longest garbage collection pause in the window. No full GC: the slowest call during "
        "which no full (generation 2) collection of the app ran. Probe: how late, at worst, a separate "
        "process that sleeps 5 ms over and over woke in the window, what the machine alone does to a call.",
        "",
        *_latency_summary(runs),
        "",
        *_control_section(runs, controls),
    ]
    if lines[-1] == "":
        lines.pop()
    lines += [
        "",
        "### Delivery and memory",
        "",
        "| protocol | run | spans lost | bytes per span | payload held | peak memory up | peak memory away | "
        "lines on stderr |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    numbered = {}
    for r in runs:
        numbered[r.protocol] = numbered.get(r.protocol, 0) + 1
        held = held_spans * r.bytes_per_span
        lines.append(
            f"| {r.protocol} | {numbered[r.protocol]} | {r.lost} of {r.calls} | {r.bytes_per_span:.0f} | "
            f"{held / mib:.2f} MiB | {r.rss_up / mib:.1f} MiB | {r.rss_away / mib:.1f} MiB | {r.stderr_lines} |"
        )
    largest = max(runs, key=lambda r: r.bytes_per_span)
    held_bytes = held_spans * largest.bytes_per_span
    growth = max(r.rss_away - r.rss_up for r in runs)
    lines += [
        "",
        f"- Held during the outage: {held_spans:.0f} spans x at most {largest.bytes_per_span:.0f} bytes (OTLP "
        f"protobuf, as sent) = {held_bytes / mib:.2f} MiB of payload; the default bound "
        f"(`OTEL_KOTAEMON_EXPORT_RETRY_MAX_BYTES`) is {bound / mib:.0f} MiB per signal, "
        f"{bound / held_bytes:.0f} times that.",
        f"- Resident memory grew by at most {growth / mib:.1f} MiB from the up window to the outage (payload held plus "
        "what Python and the allocator keep); the bound is on the payload.",
        "- Lines on standard error: ours are one when the collector went away and one when delivery resumed, per "
        "signal exported; over gRPC the gRPC library may add one of its own about the connection the receiver closed "
        "(GOAWAY).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--protocol", action="append", choices=["http/protobuf", "grpc"])
    parser.add_argument("--runs", type=int, default=1, help="runs per protocol")
    parser.add_argument("--controls", type=int, default=0, help="runs per protocol without an outage, after the others")
    parser.add_argument("--outage", type=float, default=120.0, help="seconds of each window")
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "outage.md")
    parser.add_argument("--setting", action="append", default=[], help="NAME=VALUE for the app, over the defaults")
    args = parser.parse_args()
    settings = dict(setting.split("=", 1) for setting in args.setting)
    runs = []
    for _ in range(args.runs):
        for protocol in args.protocol or ["http/protobuf", "grpc"]:
            runs.append(run(protocol, args.outage, settings))
            print(runs[-1], flush=True)
    for _ in range(args.controls):
        for protocol in args.protocol or ["http/protobuf", "grpc"]:
            runs.append(run(protocol, args.outage, settings, control=True))
            print(runs[-1], flush=True)
    section = report(runs, args.outage, settings)
    args.output.write_text(merged(args.output.read_text() if args.output.exists() else "", section, args.outage))
    print(section)


if __name__ == "__main__":
    main()
