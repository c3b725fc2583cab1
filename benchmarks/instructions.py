"""Instructions per call that OpenAI-client instrumentation adds: the steadier twin of `overhead.py`.

CPU time on a shared machine moves with whatever else runs there; the number of instructions a process executes
moves far less (repeat runs of the same code differ by a few percent: exporter threads wake at other moments,
garbage collection falls elsewhere). This runs the same workers as `overhead.py` (same SDK set-up, same OTLP/HTTP
export, same calls) one at a time under valgrind's callgrind, which counts the instructions of every thread of the
worker, exporter threads included. For each operation the worker makes `--warmup` unmeasured calls, then `--calls`
calls followed by a flush of every provider, and callgrind's counters are dumped around that window. A
configuration's figure is its instructions per call minus the bare client's.

    .venv/bench/bin/python benchmarks/instructions.py [--calls 100] [--package-ref HEAD]

Needs valgrind (Debian package `valgrind`). About two minutes per configuration. Writes `benchmarks/instructions.md`.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import overhead  # the benchmark's own module, next to this file

RESULTS = overhead.REPO / "benchmarks" / "instructions.md"
CONFIGS = ("bare", "bare-span", "ours", "ours-no-usage-request", "ours-unsampled", "official", "openllmetry")
GOALS = {"chat": 3, "stream": 4}
"""Our goal per operation, in bare exported spans: at most this many times what one bare span adds."""


def dump_total(pid: int, folder: Path) -> int:
    """Ask callgrind to dump the counters of process `pid` (which zeroes them) and return the dumped total."""
    subprocess.run(["callgrind_control", "--dump", str(pid)], capture_output=True, check=True)
    dumps = sorted(folder.glob(f"callgrind.{pid}.*"), key=lambda path: int(path.suffix[1:]))
    for line in dumps[-1].read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise RuntimeError(f"no total in {dumps[-1]}")


def measure(
    config: str, server: overhead.Service, sink: overhead.Service, args: argparse.Namespace
) -> dict[str, float]:
    """Instructions per call of each operation for one configuration, in a worker running under callgrind."""
    with tempfile.TemporaryDirectory(prefix="callgrind-") as name:
        folder = Path(name)
        command = overhead.worker_command("serve", config, server, sink, args)
        worker_env = {**overhead.worker_environment(args.package_copy), "PYTHONHASHSEED": "0"}
        process = subprocess.Popen(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={folder}/callgrind.%p", *command],
            cwd=overhead.REPO,
            env=worker_env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert process.stdin is not None and process.stdout is not None

        def ask(line: str) -> str:
            assert process.stdin is not None and process.stdout is not None
            process.stdin.write(line + "\n")
            process.stdin.flush()
            return process.stdout.readline().strip()

        try:
            if process.stdout.readline().strip() != "ready":
                raise RuntimeError(f"the {config} worker did not start under callgrind")
            for operation in overhead.OPERATIONS:
                ask(f"warm {operation} {args.warmup}")
            figures = {}
            for operation in overhead.OPERATIONS:
                dump_total(process.pid, folder)  # zero the counters: only the window below counts
                ask(f"begin {operation}")
                ask(f"run {operation} {args.calls}")
                ask(f"end {operation}")
                figures[operation] = dump_total(process.pid, folder) / args.calls
            ask("quit")
            process.wait(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    return figures


def report(figures: dict[str, dict[str, float]], args: argparse.Namespace, seconds: float) -> str:
    """The Markdown report: instructions added per call, and the ratio to one bare exported span."""
    bare, span = figures["bare"], figures["bare-span"]
    lines = [
        "# Instructions per call",
        "",
        "Instructions that each configuration adds per call to the OpenAI client, counted by callgrind over every",
        "thread of the worker (export included), measured by `benchmarks/instructions.py`. Nearly deterministic:",
        "repeat runs of the same code differ by a few percent (exporter threads wake at other moments, garbage",
        "collection falls elsewhere). In brackets: times what one bare exported span adds.",
        "",
        "```",
        f"python benchmarks/instructions.py --calls {args.calls} --warmup {args.warmup}",
        "```",
        "",
        f"{args.calls} measured calls per operation after {args.warmup} warm-up calls; the run took "
        f"{seconds / 60:.1f} minutes. Python {platform.python_version()}; "
        f"{overhead.package_origin(args.package_ref)}.",
        "",
        "| configuration | chat | chat streamed | embeddings |",
        "|---|---:|---:|---:|",
        "| bare client (absolute, thousands) | "
        + " | ".join(f"{bare[operation] / 1e3:,.0f}k" for operation in overhead.OPERATIONS)
        + " |",
    ]
    for config in CONFIGS[1:]:
        cells = []
        for operation in overhead.OPERATIONS:
            added = figures[config][operation] - bare[operation]
            ratio = added / (span[operation] - bare[operation])
            cells.append(f"+{added / 1e3:,.0f}k ({ratio:.1f}x)")
        lines.append(f"| {config}: {overhead.CONFIG_NOTES[config]} | " + " | ".join(cells) + " |")
    lines += ["", "Goals: " + goal_summary(figures), "", "Versions:", ""]
    lines += [f"- {version}" for version in overhead.versions()]
    return "\n".join(lines) + "\n"


def goal_summary(figures: dict[str, dict[str, float]]) -> str:
    """Whether ours meets its goals against the bare span and the peers."""
    bare, span, ours = figures["bare"], figures["bare-span"], figures["ours"]
    parts = []
    for operation in overhead.OPERATIONS:
        added = ours[operation] - bare[operation]
        ratio = added / (span[operation] - bare[operation])
        peers = [name for name in ("official", "openllmetry") if figures[name][operation] - bare[operation] <= added]
        goal = GOALS.get(operation)
        verdict = f"{operation} {ratio:.1f}x a bare span" + (f" (goal <={goal}x)" if goal else "")
        verdict += ", below both peers" if not peers else f", not below {', '.join(peers)}"
        parts.append(verdict)
    return "; ".join(parts) + "."


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=100, help="measured calls per operation")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured calls per operation first")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the Markdown report")
    parser.add_argument("--package-ref", help="measure the package as committed at this git ref")
    parsed = parser.parse_args(argv)
    parsed.memory_calls = overhead.MEMORY_CALLS  # part of the worker command line, unused here
    return parsed


def main(argv: Sequence[str]) -> None:
    args = parse(argv)
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        sys.exit("valgrind is needed (Debian: apt-get install valgrind)")
    started = time.perf_counter()
    figures: dict[str, dict[str, float]] = {}
    with overhead.package_at(args.package_ref) as copy, overhead.services() as (server, sink):
        args.package_copy = copy
        for config in CONFIGS:
            figures[config] = measure(config, server, sink, args)
            args.output.with_suffix(".json").write_text(json.dumps(figures, indent=1) + "\n")  # kept if interrupted
            print(
                f"{config:>22}: " + ", ".join(f"{op} {n / 1e3:,.0f}k" for op, n in figures[config].items()), flush=True
            )
    text = report(figures, args, time.perf_counter() - started)
    args.output.write_text(text)
    args.output.with_suffix(".json").write_text(json.dumps(figures, indent=1) + "\n")
    print()
    print(text)


if __name__ == "__main__":
    main(sys.argv[1:])
