"""Instructions per call that instrumentation adds to every traced path: the steadier twin of `overhead.py`.

CPU time on a shared machine moves with whatever else runs there; the number of instructions a process executes
moves far less (repeat runs of the same code differ by a few percent: exporter threads wake at other moments,
garbage collection falls elsewhere). This runs the same workers as `overhead.py` (same SDK set-up, same OTLP/HTTP
export, same paths from `paths.py`) under valgrind's callgrind, which counts the instructions of every thread of the
worker, exporter threads included. Instrumentation is off while a worker starts and warms up (valgrind runs it
uncounted, several times faster); for each path the worker makes its warm-up calls, then callgrind counts two
windows, one call and then `1 + calls` calls, each after a full garbage collection (so that one of the app's own
falls in neither by chance) and followed by a flush of every provider (so every span's export is paid inside the
window): the difference of the two, divided by `calls`, is the cost per call without the fixed cost of a flush (a
metric export happens once a minute, whatever the number of calls). The SDK's export timers are off in these
workers: under valgrind a call takes fifty times its normal wall time, so the 5 s span and 60 s metric timers would
fire inside the windows as often as the machine is slow, adding exports no real run makes. A configuration's figure
is its instructions per call minus the bare run's. Configurations run side by side (`--jobs`), which changes nothing
in what they count; `--repeats` runs everything again to show the run-to-run variation.

    .venv/bench/bin/python benchmarks/instructions.py [--calls 40] [--repeats 2] [--baseline REF]

`--baseline REF` also measures our package as committed at REF (`ours@REF`), for before/after tables. Needs
valgrind (Debian package `valgrind`). Writes `benchmarks/instructions.md` and `benchmarks/instructions.json`.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import overhead  # the benchmark's own modules, next to this file
import paths

RESULTS = overhead.REPO / "benchmarks" / "instructions.md"
BASELINE = "ours@"
"""Prefix of the configuration that measures our package at the `--baseline` ref."""


def callgrind(command: str, pid: int, folder: Path) -> int | None:
    """Send callgrind a command (`--dump` answers the total it dumped; a dump zeroes the counters)."""
    subprocess.run(["callgrind_control", command, str(pid)], capture_output=True, check=True)
    if command != "--dump":
        return None
    dumps = sorted(folder.glob(f"callgrind.{pid}.*"), key=lambda path: int(path.suffix[1:]))
    for line in dumps[-1].read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise RuntimeError(f"no total in {dumps[-1]}")


def under_callgrind(command: list[str], folder: Path, package_copy: Path | None = None) -> subprocess.Popen[str]:
    """Start a benchmark worker under callgrind, counting nothing until told (`--instr=on`), talking over its
    standard input and output; its dumps go to `folder`."""
    return subprocess.Popen(
        [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={folder}/callgrind.%p",
            *command,
        ],
        cwd=overhead.REPO,
        env={**overhead.worker_environment(package_copy), "PYTHONHASHSEED": "0"},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def count_window(command: list[str], request: str, name: str, timeout: float = 300) -> int:
    """Start a worker under callgrind and count the instructions of one window: from after its warm-up (it prints
    `ready`) until it answers `request` (one line each way, `done` expected)."""
    with tempfile.TemporaryDirectory(prefix="callgrind-") as folder_name:
        folder = Path(folder_name)
        process = under_callgrind(command, folder)
        assert process.stdin is not None and process.stdout is not None
        try:
            if process.stdout.readline().strip() != "ready":
                raise RuntimeError(f"the {name} worker did not start")
            callgrind("--instr=on", process.pid, folder)
            callgrind("--dump", process.pid, folder)  # zero the counters: only the window below counts
            process.stdin.write(request + "\n")
            process.stdin.flush()
            if process.stdout.readline().strip() != "done":
                raise RuntimeError(f"the {name} worker did not finish its window")
            return callgrind("--dump", process.pid, folder) or 0
        finally:
            process.stdin.close()
            process.wait(timeout=timeout)


def measure(config: str, sink: overhead.Service, server: overhead.Service, args: argparse.Namespace) -> dict[str, Any]:
    """Instructions and exported spans per call of each path the configuration traces, under callgrind."""
    worker_config, package_copy = (
        ("ours", args.baseline_copy) if config.startswith(BASELINE) else (config, args.package_copy)
    )
    operations = [op for op in args.operations if worker_config in paths.configs_for(op, overhead.CONFIGS)]
    with tempfile.TemporaryDirectory(prefix="callgrind-") as name:
        folder = Path(name)
        command = overhead.worker_command("serve", worker_config, server, sink, args)
        command[-1] = f"--operations={','.join(operations)}"
        command += [f"--service-name={config}", "--no-timers"]
        process = under_callgrind(command, folder, package_copy)
        assert process.stdin is not None and process.stdout is not None

        def ask(line: str) -> str:
            assert process.stdin is not None and process.stdout is not None
            process.stdin.write(line + "\n")
            process.stdin.flush()
            return process.stdout.readline().strip()

        figures: dict[str, Any] = {"instructions": {}, "spans": {}}
        try:
            if process.stdout.readline().strip() != "ready":
                raise RuntimeError(f"the {config} worker did not start under callgrind")
            for operation in operations:
                calls = overhead.calls_of(operation, args.calls)
                ask(f"warm {operation} {overhead.calls_of(operation, args.warmup)}")
                before = json.loads(sink.ask("stats"))["services"].get(config, 0)
                callgrind("--instr=on", process.pid, folder)
                totals = []
                for count in (1, 1 + calls):  # two windows, each ended by a flush: their difference is `calls`
                    ask("collect")
                    callgrind("--dump", process.pid, folder)  # zero the counters: only the window below counts
                    ask(f"begin {operation}")
                    ask(f"run {operation} {count}")
                    ask(f"end {operation}")
                    totals.append(callgrind("--dump", process.pid, folder) or 0)
                callgrind("--instr=off", process.pid, folder)
                figures["instructions"][operation] = (totals[1] - totals[0]) / calls
                received = json.loads(sink.ask("stats"))["services"].get(config, 0) - before
                figures["spans"][operation] = received / (2 + calls)
            ask("quit")
            process.wait(timeout=300)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    return figures


def configurations(args: argparse.Namespace) -> list[str]:
    configs = list(args.configs)
    if args.baseline:
        configs.insert(configs.index("ours") + 1 if "ours" in configs else 1, BASELINE + args.baseline)
    return configs


def run(args: argparse.Namespace, kept: dict[str, Any] | None) -> dict[str, Any]:
    """Every configuration `--repeats` times, `--jobs` at once (spans are told apart by service name, so one
    configuration never runs twice at the same moment). With `kept` (an earlier run), only the given
    configurations are measured again; the others keep their figures."""
    results: dict[str, list[dict[str, Any]]] = {}
    configs = configurations(args)
    if kept is not None:
        results = {c: v for c, v in kept["results"].items() if c not in configs}
        order = list(dict.fromkeys([*kept["configs"], *configs]))
        configs, all_configs = configs, sorted(order, key=lambda c: _order(c))
    else:
        all_configs = configs
    with overhead.services() as (server, sink):
        for repeat in range(args.repeats):
            with ThreadPoolExecutor(max_workers=args.jobs) as pool:
                futures = {config: pool.submit(measure, config, sink, server, args) for config in configs}
                for config, future in futures.items():
                    figures = future.result()
                    results.setdefault(config, []).append(figures)
                    text = ", ".join(f"{op} {n / 1e3:,.0f}k" for op, n in figures["instructions"].items())
                    print(f"run {repeat + 1}/{args.repeats} {config:>22}: {text}", flush=True)
    return {"configs": all_configs, "results": results}


def _order(config: str) -> int:
    """Report order: the configurations in `overhead.CONFIGS` order, a baseline right after ours."""
    name = "ours" if config.startswith(BASELINE) else config
    return 2 * overhead.CONFIGS.index(name) + (1 if config.startswith(BASELINE) else 0)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


class Figures:
    """The measured figures of one run of this script, with medians and ranges over the repeats."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.configs: list[str] = data["configs"]
        self.results: dict[str, list[dict[str, Any]]] = data["results"]

    def has(self, config: str, operation: str) -> bool:
        return any(operation in run["instructions"] for run in self.results.get(config, ()))

    def values(self, config: str, operation: str) -> list[float]:
        return [run["instructions"][operation] for run in self.results[config] if operation in run["instructions"]]

    def added(self, config: str, operation: str) -> list[float]:
        """Instructions added per call, repeat by repeat against the bare run of the same repeat (against the bare
        median when the two were measured a different number of times)."""
        bare, values = self.values("bare", operation), self.values(config, operation)
        if len(bare) != len(values):
            bare = [median(bare)] * len(values)
        return [value - base for value, base in zip(values, bare, strict=True)]

    def spans(self, config: str, operation: str) -> float:
        return median([run["spans"][operation] for run in self.results[config] if operation in run["spans"]])

    def measured_floor(self, operation: str) -> float:
        return median(self.added("bare-span", operation)) if self.has("bare-span", operation) else float("nan")

    def floor(self, operation: str) -> float:
        """What one bare span adds to the path; where that is lost in the path's own noise (a Kotaemon pipeline run is
        about 550M instructions, run-to-run noise exceeds one span), the median over the paths where it is not."""
        measured = self.measured_floor(operation)
        if measured > 0 and operation not in paths.KOTAEMON:
            return measured
        others = [self.measured_floor(o) for o in paths.OPERATIONS if o not in paths.KOTAEMON]
        others = [value for value in others if value > 0]
        return median(others) if others else float("nan")


def _thousands(values: list[float], signed: bool = True) -> str:
    middle = median(values)
    text = f"{'+' if signed and middle >= 0 else ''}{middle / 1e3:,.0f}k"
    if len(values) > 1:
        text += f" ({min(values) / 1e3:,.0f}k to {max(values) / 1e3:,.0f}k)"
    return text


def path_table(figures: Figures, operation: str) -> list[str]:
    """One path: bare instructions per call, then what each configuration adds, in bare spans and spans made."""
    floor = figures.floor(operation)
    lines = [
        "| configuration | instructions per call | x one bare span | spans exported per call |",
        "|---|---:|---:|---:|",
        f"| bare (absolute) | {_thousands(figures.values('bare', operation), signed=False)} | | |",
    ]
    for config in figures.configs[1:]:
        if not figures.has(config, operation):
            continue
        added = figures.added(config, operation)
        ratio = median(added) / floor if floor > 0 else float("nan")
        label = overhead.CONFIG_NOTES.get(config, f"ours as committed at {config[len(BASELINE) :]}")
        lines.append(
            f"| {config}: {label} | {_thousands(added)} | {ratio:.1f}x | {figures.spans(config, operation):.2f} |"
        )
    return lines


def goal_lines(figures: Figures) -> list[str]:
    """Ours against the bare-span floor (per span ours makes) and against every peer that traces the path."""
    lines = []
    for operation in paths.OPERATIONS:
        if not figures.has("ours", operation):
            continue
        ours = median(figures.added("ours", operation))
        spans = figures.spans("ours", operation) or 1.0
        per_span = ours / figures.floor(operation) / spans
        text = f"- {paths.TITLES[operation]}: ours +{ours / 1e3:,.0f}k, {per_span:.1f}x a bare span per span made"
        goal = overhead.GOALS.get(operation)
        if goal is not None:
            text += f" (goal at most {goal}x: {'met' if per_span <= goal else 'MISSED'})"
        peers = {p: median(figures.added(p, operation)) for p in paths.PEERS if figures.has(p, operation)}
        if peers:
            behind = [p for p, value in peers.items() if value <= ours]
            text += "; below every peer" if not behind else f"; NOT below {', '.join(behind)}"
            text += " (" + ", ".join(f"{p} +{v / 1e3:,.0f}k" for p, v in peers.items()) + ")"
        baseline = next((c for c in figures.configs if c.startswith(BASELINE)), None)
        if baseline is not None and figures.has(baseline, operation):
            before = median(figures.added(baseline, operation))
            text += f"; before ({baseline}) +{before / 1e3:,.0f}k: {ours / before:.0%} of it"
        lines.append(text)
    return lines


def report(data: dict[str, Any], args: argparse.Namespace, seconds: float) -> str:
    """The Markdown report: one table per path, the goals, the method and the versions."""
    figures = Figures(data)
    lines = [
        "# Instructions per call",
        "",
        "Instructions that each configuration adds per call of every path this package traces, counted by",
        "callgrind over every thread of the worker (export included), measured by `benchmarks/instructions.py`",
        "(paths: `benchmarks/paths.py`; configurations: `benchmarks/results.md`). Nearly deterministic: repeat runs",
        "of the same code differ by a few percent (exporter threads wake at other moments, garbage collection falls",
        "elsewhere)" + ("; the brackets give the lowest and highest repeat." if args.repeats > 1 else "."),
        "`x one bare span`: times what one bare exported span (5 attributes, OTLP/HTTP) adds to the same path (for the",
        "Kotaemon pipeline, whose runs vary by more than one span, the median of what it adds to the other paths).",
        "",
        "```",
        "make bench-reports",
        f"# which runs: python benchmarks/instructions.py --calls {args.calls} --warmup {args.warmup} "
        f"--repeats {args.repeats}" + (f" --baseline {args.baseline}" if args.baseline else ""),
        "```",
        "",
        f"{args.calls} counted OpenAI calls per path after {args.warmup} warm-up calls; the slower paths make "
        "proportionally fewer ("
        + ", ".join(f"{op} /{w}" for op, w in paths.WEIGHTS.items() if w > 1)
        + f", at least 5). The run took {seconds / 60:.1f} minutes. Python {platform.python_version()}; "
        f"{overhead.package_origin(args.package_ref)}.",
        "",
    ]
    for operation in paths.OPERATIONS:
        if figures.has("bare", operation):
            lines += [f"## {paths.TITLES[operation]}", "", *path_table(figures, operation), ""]
    lines += ["## Goals", "", *goal_lines(figures), "", "## Versions", ""]
    lines += [f"- {version}" for version in overhead.versions()]
    return "\n".join(lines) + "\n"


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=40, help="counted OpenAI calls per path (fewer for slow paths)")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured OpenAI calls per path first")
    parser.add_argument("--repeats", type=int, default=2, help="runs of every configuration")
    parser.add_argument("--jobs", type=int, default=3, help="configurations measured at once")
    parser.add_argument("--baseline", help="also measure our package as committed at this git ref")
    parser.add_argument("--configs", type=overhead._names(overhead.CONFIGS), default=overhead.CONFIGS)
    parser.add_argument("--operations", type=overhead._names(paths.OPERATIONS), default=paths.OPERATIONS)
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the Markdown report")
    parser.add_argument("--render", action="store_true", help="rewrite the report from the saved figures")
    parser.add_argument(
        "--update", action="store_true", help="measure only --configs again, keeping the saved figures of the rest"
    )
    parser.add_argument("--package-ref", help="measure the package as committed at this git ref")
    parsed = parser.parse_args(argv)
    parsed.memory_calls = overhead.MEMORY_CALLS  # part of the worker command line, unused here
    return parsed


def main(argv: Sequence[str]) -> None:
    args = parse(argv)
    raw = args.output.with_suffix(".json")
    if args.render:
        saved = json.loads(raw.read_text())
        text = report(saved["data"], argparse.Namespace(**{**vars(args), **saved["args"]}), saved["seconds"])
        args.output.write_text(text)
        print(text)
        return
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        sys.exit("valgrind is needed (Debian: apt-get install valgrind)")
    started = time.perf_counter()
    saved = json.loads(raw.read_text()) if args.update and raw.exists() else None
    with overhead.package_at(args.package_ref) as copy, overhead.package_at(args.baseline) as baseline_copy:
        args.package_copy, args.baseline_copy = copy, baseline_copy
        data = run(args, saved["data"] if saved is not None else None)
    seconds = time.perf_counter() - started + (saved["seconds"] if saved is not None else 0.0)
    kept = {k: v for k, v in vars(args).items() if k in ("calls", "warmup", "repeats", "baseline", "package_ref")}
    raw.write_text(json.dumps({"args": kept, "seconds": seconds, "data": data}, indent=1) + "\n")
    text = report(data, args, seconds)
    args.output.write_text(text)
    print()
    print(text)


if __name__ == "__main__":
    main(sys.argv[1:])
