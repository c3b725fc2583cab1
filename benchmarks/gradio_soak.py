"""The ktem-like Gradio app answering questions over HTTP, bare and under `opentelemetry-instrument`: spans, server CPU,
latency and memory per question.

Run it from the repository root in each test environment (each run adds its environment's figures to
`benchmarks/gradio_soak.json` and rewrites `benchmarks/gradio_soak.md` from every environment there):

    .venv/latest/bin/python benchmarks/gradio_soak.py [--questions 30] [--warmup 5] [--rounds 3]
    .venv/lock/bin/python benchmarks/gradio_soak.py

The app (tests/apps/ktem_gradio_app.py) runs in a process of its own against a local model server; `gradio_client`
asks its questions as ktem's chat page does (`submit_msg`, then the streamed `chat_fn` and the four events chained
after it), ten questions per browser session. Each round starts four apps side by side, with the same environment:
bare (`python app.py`), instrumented (`opentelemetry-instrument python app.py`, every default: the FastAPI
instrumentation is installed, as in Kotaemon's environment; spans exported over OTLP to a local receiver),
instrumented with the ASGI layer's message spans kept (`OTEL_KOTAEMON_ASGI_MESSAGE_SPANS=true`, what the defaults
were before), and instrumented with the FastAPI instrumentation disabled (`OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=
fastapi`: ours alone, what a user who does without the request spans pays). Each app is asked `--warmup` questions,
then each server's own CPU time (every thread, /proc/PID/stat) and resident memory (VmRSS) are read, then again after
`--questions` more, asked in turn: one question to each app, in an order that rotates from one question to the next.
Whatever else runs on the machine (it has 2 shared cores) then weighs on them alike within a round, and an app
waiting for its turn idles for as long as the others.
Reported per measured question: spans (those that started in the measured window), server CPU, memory growth, and
the median latency of a question (its six events, wall clock, at the client). The tables show the median over the
rounds, each round's figures, and the median of the rounds' paired differences of CPU from bare.
"""

from __future__ import annotations

import argparse
import contextlib
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
CONFIGS: dict[str, tuple[bool, dict[str, str]]] = {
    "bare": (False, {}),
    "instrumented": (True, {}),
    "message spans kept": (True, {"OTEL_KOTAEMON_ASGI_MESSAGE_SPANS": "true"}),
    "request spans off": (True, {"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "fastapi"}),
}
"""Name: (under `opentelemetry-instrument`, extra environment). The last is what a user who would rather not pay for
the FastAPI instrumentation's request spans can choose: ours alone."""
HEADINGS = {
    "bare": "bare",
    "instrumented": "instrumented (default)",
    "message spans kept": "instrumented, message spans kept",
    "request spans off": "instrumented, FastAPI instrumentation off",
}
TARGET_PERCENT = 5.0
"""Issue 26: server CPU per question instrumented within 5% of bare (median of paired runs)."""
ROUND_COLUMNS = (("cpu_ms", ".1f"), ("latency_ms", ".0f"), ("rss_kib", ".1f"))
ROUND_HEADS = ("CPU ms", "latency ms", "memory KiB")
SHORT = {"bare": "bare", "instrumented": "instrumented", "message spans kept": "kept", "request spans off": "off"}


def proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


class Asker:
    """One configuration's app asked questions as a browser would: ten per browser session."""

    def __init__(self, app: GradioApp) -> None:
        self.app = app
        self.client: Any = None
        self.history: list[Any] = []
        self.latencies: list[float] = []

    def ask(self, number: int) -> None:
        """Question `number`; its wall-clock seconds are noted."""
        if self.client is None or number % QUESTIONS_PER_SESSION == 0:
            self.client, self.history = self.app.client(), []
        began = time.perf_counter()
        self.history = ask(self.client, f"What is the answer, question {number}?", self.history)
        self.latencies.append(time.perf_counter() - began)


def measure_round(configs: list[str], questions: int, warmup: int) -> dict[str, dict[str, Any]]:
    """One round: an app per configuration, side by side, asked the same questions in turn (the order rotating from
    one question to the next), so that whatever else runs on the machine weighs on each alike."""
    with contextlib.ExitStack() as stack:
        askers: dict[str, Asker] = {}
        receivers: dict[str, OtlpReceiver] = {}
        for config in configs:
            instrumented, env = CONFIGS[config]
            server = stack.enter_context(OpenAIServer())
            receivers[config] = stack.enter_context(OtlpReceiver())
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            app = GradioApp(receivers[config], server.base_url, workdir, {**BENCH_ENV, **env}, instrumented)
            stack.callback(app.stop)
            askers[config] = Asker(app)
        for number in range(warmup):
            for config in configs:
                askers[config].ask(number)
        pids = {config: asker.app.process.pid for config, asker in askers.items()}
        for asker in askers.values():
            asker.latencies.clear()
        cpu = {c: proc_cpu_seconds(pid) for c, pid in pids.items()}
        rss = {c: proc_rss_bytes(pid) for c, pid in pids.items()}
        began = time.time_ns()
        for number in range(warmup, warmup + questions):
            shift = number % len(configs)
            for config in configs[shift:] + configs[:shift]:
                askers[config].ask(number)
        ended = time.time_ns()
        cpu = {c: proc_cpu_seconds(pid) - cpu[c] for c, pid in pids.items()}
        rss = {c: proc_rss_bytes(pid) - rss[c] for c, pid in pids.items()}
    measured = {}
    for config in configs:
        spans = [s for s in receivers[config].spans if began <= s.start <= ended]
        measured[config] = {
            "cpu_ms": cpu[config] * 1e3 / questions,
            "latency_ms": statistics.median(askers[config].latencies) * 1e3,
            "rss_kib": rss[config] / 1024 / questions,
            "spans": len(spans) / questions,
            "asgi_spans": sum(s.scope in ASGI_SCOPES for s in spans) / questions,
            "message_spans": sum(s.name.endswith((" http send", " http receive")) for s in spans) / questions,
            "our_spans": sum(s.scope == OURS for s in spans) / questions,
        }
    return measured


def environment_name() -> str:
    asgi = version("opentelemetry-instrumentation-asgi")
    return (
        f"Python {platform.python_version()}, gradio {version('gradio')}, opentelemetry-sdk "
        f"{version('opentelemetry-sdk')}, opentelemetry-instrumentation-fastapi/asgi {asgi}"
    )


def median(rounds: list[dict[str, Any]], config: str, key: str) -> float:
    return statistics.median(r[config][key] for r in rounds)


def row(
    rounds: list[dict[str, Any]], title: str, key: str, form: str, configs: tuple[str, ...] = tuple(CONFIGS)
) -> str:
    """A table row: the median over the rounds of `key` for each configuration in `configs`."""
    cells = [format(median(rounds, c, key), form) if c in configs and c in rounds[0] else "-" for c in CONFIGS]
    return f"| {title} | " + " | ".join(cells) + " |"


def overheads(rounds: list[dict[str, Any]], config: str) -> list[float]:
    """Server CPU per question of `config` over bare's, in percent, round by round."""
    return [100 * (r[config]["cpu_ms"] / r["bare"]["cpu_ms"] - 1) for r in rounds]


def overhead_clause(rounds: list[dict[str, Any]], config: str) -> str:
    """`config`'s paired overhead: the median, then each round's."""
    each = overheads(rounds, config)
    return f"{statistics.median(each):+.1f}% ({', '.join(f'{o:+.1f}%' for o in each)})"


def target_sentence(rounds: list[dict[str, Any]], overhead: float) -> str:
    """Whether the median meets issue 26's 5% bound, next to how far the bare app alone moved between rounds."""
    bare = [r["bare"]["cpu_ms"] for r in rounds]
    verdict = "met" if overhead <= TARGET_PERCENT else "not met"
    spread = 100 * (max(bare) / min(bare) - 1)
    return (
        f"The {TARGET_PERCENT:g}% bound is {verdict} by this median ({overhead:+.1f}%). The bare app alone used "
        f"{min(bare):.1f} to {max(bare):.1f} ms of CPU per question across the rounds ({spread:.0f}% apart); within "
        "a round the apps share the machine's load, so the paired differences move less than that."
    )


def render(data: dict[str, Any]) -> str:
    lines = [
        "# Gradio soak: the ktem-like app answering questions over HTTP",
        "",
        "Measured by `benchmarks/gradio_soak.py` (its docstring has the method): the ktem-like Gradio app "
        "(tests/apps/ktem_gradio_app.py) answering questions over HTTP as ktem's chat page asks them: bare, under "
        "`opentelemetry-instrument` with every default, with the ASGI layer's `http send` / `http receive` spans "
        "kept (`OTEL_KOTAEMON_ASGI_MESSAGE_SPANS=true`, the default before), and with the FastAPI instrumentation "
        "off (`OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=fastapi`; measured on Kotaemon's lock only): in each round they "
        "run side by side and are asked the same questions in turn, one question to each, in rotating order. Per "
        "measured question: spans exported, the server process's own CPU time, its resident memory growth after "
        "warm-up, and the median latency of a question at the client (six queued events, the answer streamed). The "
        "machine has 2 cores shared with other work, whose load moves from one minute to the next: asking the apps in "
        "turn makes each round a paired comparison under the same load, and the rounds' medians are reported.",
        "",
        "Targets (issue 26): at most about 40 spans per question with the request spans kept; server CPU per question "
        "instrumented within 5% of bare (median of paired runs); memory growth per question no worse than bare.",
    ]
    for name, run in data.items():
        rounds = run["rounds"]
        measured = [c for c in CONFIGS if c in rounds[0]]
        instrumented = tuple(c for c in measured if c != "bare")
        others = [
            f"{HEADINGS[c].removeprefix('instrumented, ')} {overhead_clause(rounds, c)}" for c in instrumented[1:]
        ]
        lines += [
            "",
            f"## {name}",
            "",
            f"`{run['command']}`: {len(rounds)} rounds of {run['questions']} questions after {run['warmup']} "
            f"warm-up questions ({run['date']}).",
            "",
            "| per question (median of rounds) | " + " | ".join(HEADINGS[c] for c in CONFIGS) + " |",
            "|---|" + "---:|" * len(CONFIGS),
            row(rounds, "spans", "spans", ".1f"),
            row(rounds, "of which the FastAPI/ASGI instrumentation's", "asgi_spans", ".1f", instrumented),
            row(rounds, "of which `http send` / `http receive`", "message_spans", ".1f", instrumented),
            row(rounds, "of which ours", "our_spans", ".1f", instrumented),
            row(rounds, "server CPU (ms)", "cpu_ms", ".1f"),
            row(rounds, "median latency (ms)", "latency_ms", ".0f"),
            row(rounds, "memory growth (KiB)", "rss_kib", ".1f"),
            "",
            "Server CPU added per question, median of the paired rounds (then each round's): "
            f"{overhead_clause(rounds, 'instrumented')}; " + "; ".join(others) + ".",
            "",
            target_sentence(rounds, statistics.median(overheads(rounds, "instrumented"))),
            "",
            "| round | "
            + " | ".join(f"{what}: {' / '.join(SHORT[c] for c in measured)}" for what in ROUND_HEADS)
            + " |",
            "|---:|---|---|---|",
        ]
        for number, r in enumerate(rounds, 1):
            cells = [" / ".join(format(r[c][key], form) for c in measured) for key, form in ROUND_COLUMNS]
            lines.append(f"| {number} | " + " | ".join(cells) + " |")
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
            names = list(CONFIGS)
            for number in range(options.rounds):
                rounds.append(measure_round(names, options.questions, options.warmup))
                print(f"round {number + 1}: {json.dumps(rounds[-1])}", flush=True)
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
