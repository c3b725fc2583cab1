"""The ktem-like Gradio app answering questions over HTTP, bare and under `opentelemetry-instrument`: spans, server CPU,
latency and memory per question.

Run it from the repository root in each test environment (each run adds its environment's figures to
`benchmarks/gradio_soak.json` and rewrites `benchmarks/gradio_soak.md` from every environment there):

    .venv/latest/bin/python benchmarks/gradio_soak.py [--questions 30] [--warmup 5] [--rounds 3]
    .venv/lock/bin/python benchmarks/gradio_soak.py

The app (tests/apps/ktem_gradio_app.py) runs in a process of its own against a local model server; `gradio_client`
asks its questions as ktem's chat page does (`submit_msg`, then the streamed `chat_fn` and the four events chained
after it), ten questions per browser session. Each round runs the app bare (`python app.py`) and instrumented
(`opentelemetry-instrument python app.py`, every default: the FastAPI instrumentation is installed, as in Kotaemon's
environment; spans exported over OTLP to a local receiver), in alternating order, with the same environment. After
`--warmup` questions the server's own CPU time (every thread, /proc/PID/stat) and resident memory (VmRSS) are read,
then again after `--questions` more. Reported per measured question: spans (those that started in the measured
window), server CPU, memory growth, and the median latency of a question (its six events, wall clock, at the client).
The tables show the median over the rounds, and each round's figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any
from unittest import mock

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support.gradio_app import QUIET, GradioApp, ask  # noqa: E402
from tests.support.openai_server import OpenAIServer  # noqa: E402
from tests.support.otlp_receiver import OtlpReceiver  # noqa: E402

REPORT = REPO / "benchmarks" / "gradio_soak.md"
RAW = REPORT.with_suffix(".json")
QUESTIONS_PER_SESSION = 10
BENCH_ENV = {"OTEL_BSP_SCHEDULE_DELAY": "5000"}
"""The SDK's default export delay (the test environment shortens it)."""
ASGI_SCOPES = ("opentelemetry.instrumentation.fastapi", "opentelemetry.instrumentation.asgi")
OURS = "opentelemetry_instrumentation_kotaemon"


def proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def ask_many(app: GradioApp, count: int, start: int) -> list[float]:
    """Ask `count` questions, ten per browser session; the wall-clock seconds of each."""
    latencies = []
    client, history = None, []
    for number in range(start, start + count):
        if client is None or number % QUESTIONS_PER_SESSION == 0:
            client, history = app.client(), []
        began = time.perf_counter()
        history = ask(client, f"What is the answer, question {number}?", history)
        latencies.append(time.perf_counter() - began)
    return latencies


def measure(instrumented: bool, questions: int, warmup: int) -> dict[str, Any]:
    with OpenAIServer() as server, OtlpReceiver() as receiver, tempfile.TemporaryDirectory() as workdir:
        app = GradioApp(receiver, server.base_url, Path(workdir), BENCH_ENV, instrumented=instrumented)
        try:
            ask_many(app, warmup, 0)
            pid = app.process.pid
            cpu, rss, began = proc_cpu_seconds(pid), proc_rss_bytes(pid), time.time_ns()
            latencies = ask_many(app, questions, warmup)
            cpu, rss = proc_cpu_seconds(pid) - cpu, proc_rss_bytes(pid) - rss
            ended = time.time_ns()
        finally:
            app.stop()
        spans = [s for s in receiver.spans if began <= s.start <= ended]
    return {
        "cpu_ms": cpu * 1e3 / questions,
        "latency_ms": statistics.median(latencies) * 1e3,
        "rss_kib": rss / 1024 / questions,
        "spans": len(spans) / questions,
        "asgi_spans": sum(s.scope in ASGI_SCOPES for s in spans) / questions,
        "message_spans": sum(s.name.endswith((" http send", " http receive")) for s in spans) / questions,
        "our_spans": sum(s.scope == OURS for s in spans) / questions,
    }


def environment_name() -> str:
    asgi = version("opentelemetry-instrumentation-asgi")
    return (
        f"Python {platform.python_version()}, gradio {version('gradio')}, opentelemetry-sdk "
        f"{version('opentelemetry-sdk')}, opentelemetry-instrumentation-fastapi/asgi {asgi}"
    )


def median(rounds: list[dict[str, Any]], config: str, key: str) -> float:
    return statistics.median(r[config][key] for r in rounds)


def render(data: dict[str, Any]) -> str:
    lines = [
        "# Gradio soak: the ktem-like app answering questions over HTTP",
        "",
        "Measured by `benchmarks/gradio_soak.py` (its docstring has the method): the ktem-like Gradio app "
        "(tests/apps/ktem_gradio_app.py) answering questions over HTTP as ktem's chat page asks them, bare and under "
        "`opentelemetry-instrument` with every default, in paired rounds. Per measured question: spans exported, the "
        "server process's own CPU time, its resident memory growth after warm-up, and the median latency of a "
        "question at the client (six queued events, the answer streamed). The machine has 2 cores shared with other "
        "work: single rounds move by several percent, hence the pairs and the medians.",
        "",
        "Targets (issue 26): at most about 40 spans per question with the request spans kept; server CPU per question "
        "instrumented within 5% of bare (median of paired runs); memory growth per question no worse than bare.",
    ]
    for name, run in data.items():
        rounds = run["rounds"]
        bare = median(rounds, "bare", "cpu_ms")
        traced = median(rounds, "instrumented", "cpu_ms")
        overheads = [100 * (r["instrumented"]["cpu_ms"] / r["bare"]["cpu_ms"] - 1) for r in rounds]
        lines += [
            "",
            f"## {name}",
            "",
            f"`{run['command']}`: {len(rounds)} rounds of {run['questions']} questions after {run['warmup']} "
            f"warm-up questions ({run['date']}).",
            "",
            "| per question (median of rounds) | bare | instrumented |",
            "|---|---:|---:|",
            f"| spans | {median(rounds, 'bare', 'spans'):.0f} | {median(rounds, 'instrumented', 'spans'):.1f} |",
            f"| of which the FastAPI/ASGI instrumentation's | - | {median(rounds, 'instrumented', 'asgi_spans'):.1f} |",
            f"| of which `http send` / `http receive` | - | {median(rounds, 'instrumented', 'message_spans'):.1f} |",
            f"| of which ours | - | {median(rounds, 'instrumented', 'our_spans'):.1f} |",
            f"| server CPU (ms) | {bare:.1f} | {traced:.1f} |",
            f"| median latency (ms) | {median(rounds, 'bare', 'latency_ms'):.0f} | "
            f"{median(rounds, 'instrumented', 'latency_ms'):.0f} |",
            f"| memory growth (KiB) | {median(rounds, 'bare', 'rss_kib'):.1f} | "
            f"{median(rounds, 'instrumented', 'rss_kib'):.1f} |",
            "",
            f"Server CPU added per question: median of the paired rounds {statistics.median(overheads):+.1f}% "
            f"(rounds: {', '.join(f'{o:+.1f}%' for o in overheads)}).",
            "",
            "| round | bare CPU ms | instrumented CPU ms | bare latency ms | instrumented latency ms | bare KiB | "
            "instrumented KiB | spans |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for number, r in enumerate(rounds, 1):
            b, i = r["bare"], r["instrumented"]
            lines.append(
                f"| {number} | {b['cpu_ms']:.1f} | {i['cpu_ms']:.1f} | {b['latency_ms']:.0f} | {i['latency_ms']:.0f} "
                f"| {b['rss_kib']:.1f} | {i['rss_kib']:.1f} | {i['spans']:.1f} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--render", action="store_true", help="rewrite the report from the JSON file only")
    options = parser.parse_args()
    data = json.loads(RAW.read_text()) if RAW.exists() else {}
    if not options.render:
        rounds = []
        with mock.patch.dict(os.environ, QUIET):
            for number in range(options.rounds):
                order = (False, True) if number % 2 == 0 else (True, False)
                result = {
                    ("instrumented" if traced else "bare"): measure(traced, options.questions, options.warmup)
                    for traced in order
                }
                rounds.append(result)
                print(f"round {number + 1}: {json.dumps(result)}", flush=True)
        data[environment_name()] = {
            "command": f"{Path(sys.executable).relative_to(REPO) if sys.executable.startswith(str(REPO)) else 'python'}"
            f" benchmarks/gradio_soak.py --questions {options.questions} --warmup {options.warmup} "
            f"--rounds {options.rounds}",
            "questions": options.questions,
            "warmup": options.warmup,
            "date": time.strftime("%Y-%m-%d", time.gmtime()),
            "rounds": rounds,
        }
        RAW.write_text(json.dumps(data, indent=1) + "\n")
    REPORT.write_text(render(data))
    print(REPORT.read_text())


if __name__ == "__main__":
    main()
