"""CPU time per Gradio queue event that our Gradio integration adds, and the spans of ours per event.

Run it from the repository root with the latest test environment (it has Gradio and `gradio_client`):

    .venv/latest/bin/python benchmarks/gradio_events.py [--events 300] [--rounds 3]

The ktem-like test app (tests/apps/ktem_gradio_app.py) runs under `opentelemetry-instrument` in a process of its own,
twice per round: with every integration of ours, and with every one but Gradio (`OTEL_KOTAEMON_INSTRUMENT`). Spans
are recorded by the SDK and exported to a local OTLP receiver; the FastAPI instrumentation is disabled, so the only
span an event can make is ours. The client sends `--events` trivial events (`persist_data_source`: no pipeline, no
model call) after a warm-up; the app's CPU time (every thread, from /proc) over those events, divided by their
number, is its cost per event. The table shows the median over the rounds of the difference, with the range.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path
from unittest import mock

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support.gradio_app import QUIET, GradioApp  # noqa: E402
from tests.support.openai_server import OpenAIServer  # noqa: E402
from tests.support.otlp_receiver import OtlpReceiver  # noqa: E402

CONFIGS = {
    "with Gradio integration": {},
    "without": {"OTEL_KOTAEMON_INSTRUMENT": "openai,kotaemon,langchain"},
}
BASE = {"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "fastapi"}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(env: dict[str, str], events: int, warmup: int) -> tuple[float, int]:
    """CPU seconds per event in the app, and spans of ours per measured event."""
    with OpenAIServer() as server, OtlpReceiver() as receiver, tempfile.TemporaryDirectory() as workdir:
        app = GradioApp(receiver, server.base_url, Path(workdir), {**BASE, **env})
        try:
            client = app.client()
            history = [["q", "a"]]
            for _ in range(warmup):
                client.predict(history, api_name="/persist_data_source")
            before = cpu_seconds(app.process.pid)
            for _ in range(events):
                client.predict(history, api_name="/persist_data_source")
            used = cpu_seconds(app.process.pid) - before
        finally:
            app.stop()
        ours = [s for s in receiver.spans if s.name == "gradio persist_data_source"]
        return used / events, len(ours)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    overheads = []
    with mock.patch.dict(os.environ, QUIET):
        for round_ in range(options.rounds):
            results = {name: measure(env, options.events, options.warmup) for name, env in CONFIGS.items()}
            (ours, spans), (bare, bare_spans) = results["with Gradio integration"], results["without"]
            assert spans == options.events + options.warmup and bare_spans == 0, (spans, bare_spans)
            overheads.append(ours - bare)
            print(
                f"round {round_ + 1}: {ours * 1e3:.3f} ms vs {bare * 1e3:.3f} ms CPU per event; "
                f"{spans / (options.events + options.warmup):.0f} span of ours per event"
            )
    median = statistics.median(overheads)
    print(
        f"overhead per Gradio event: {median * 1e6:.0f} µs CPU (median of {options.rounds} rounds, "
        f"range {min(overheads) * 1e6:.0f} to {max(overheads) * 1e6:.0f} µs)"
    )


if __name__ == "__main__":
    main()
