"""Where the instructions we add to a path go: LangChain's dispatch, our own bookkeeping, metric records, spans.

`instructions.py` counts what each configuration adds in total, export included. This takes one path apart in a
single process, with nothing exported: spans end in an exporter that drops them and metrics stay in an in-memory
reader, so what is left is the work done on the caller's thread. Each variant removes one layer:

- `bare`: no OpenTelemetry at all;
- `dispatch`: an SDK and a LangChain callback handler that does nothing, added the way ours is (LangChain's
  configure hook): what LangChain itself spends on reporting runs to any handler;
- `ours-no-metrics`: ours with no meter provider (the API's no-op meter): everything but metric records;
- `ours-unsampled`: ours with the `always_off` sampler: everything but recording spans;
- `ours-langchain-only`: ours with `OTEL_KOTAEMON_INSTRUMENT=langchain`: no OpenAI client layer under the model run;
- `ours`: the package as `opentelemetry-instrument` runs it, export aside.

Every variant runs in a worker under callgrind, which counts its instructions over a window of `--calls` calls
after a warm-up (every thread; the model server runs in a process of its own). Run from the repository root with
the benchmark environment:

    .venv/bench/bin/python benchmarks/breakdown.py [--operation rag] [--calls 20]

It prints a Markdown table; `langchain-profile.md` quotes it with the date and commit.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import overhead  # the benchmark's own modules, next to this file
import paths
from instructions import count_window

VARIANTS = ("bare", "dispatch", "ours-no-metrics", "ours-unsampled", "ours-langchain-only", "ours")


def set_up(variant: str) -> None:
    """The SDK and instrumentation of one variant (in the worker, before any path is built)."""
    if variant == "bare":
        return
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON

    class Dropping(SpanExporter):  # type: ignore[misc]
        def export(self, spans: Sequence[Any]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider(sampler=ALWAYS_OFF if variant == "ours-unsampled" else ALWAYS_ON)
    provider.add_span_processor(SimpleSpanProcessor(Dropping()))
    trace.set_tracer_provider(provider)
    if variant != "ours-no-metrics":
        metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))
    if variant == "dispatch":
        from contextvars import ContextVar

        from langchain_core.callbacks import BaseCallbackHandler
        from langchain_core.tracers.context import register_configure_hook

        class Idle(BaseCallbackHandler):  # type: ignore[misc]
            run_inline = True

        register_configure_hook(ContextVar("idle_handler", default=Idle()), True)  # noqa: B039 (one for all)
        return
    if variant == "ours-langchain-only":
        os.environ["OTEL_KOTAEMON_INSTRUMENT"] = "langchain"
    from opentelemetry_instrumentation_kotaemon import KotaemonInstrumentor

    KotaemonInstrumentor().instrument()


def worker(variant: str, operation: str, base_url: str, warmup: int) -> None:
    """Set up, warm up, then make the calls the parent asks for (one line each way)."""
    set_up(variant)
    counter = [0]
    found = {**paths.openai_paths(base_url, counter), **paths.langchain_paths(base_url, counter)}
    call = found[operation]
    for _ in range(warmup):
        call()
    print("ready", flush=True)
    for line in sys.stdin:
        for _ in range(int(line)):
            call()
        print("done", flush=True)


def measure(variant: str, operation: str, base_url: str, calls: int, warmup: int) -> float:
    """Instructions per call of one variant, in a window of `calls` calls."""
    command = [sys.executable, __file__, "--worker", variant, "--operation", operation, "--base-url", base_url]
    command += ["--warmup", str(warmup)]
    return count_window(command, str(calls), variant) / calls


def main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--operation", default="rag", choices=paths.OPENAI + paths.LANGCHAIN)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, args.operation, args.base_url, args.warmup)
        return
    server = overhead.Service("-m", "benchmarks.model_server")
    try:
        figures = {}
        for variant in args.variants.split(","):
            figures[variant] = measure(variant, args.operation, server.address, args.calls, args.warmup)
            print(f"{variant}: {figures[variant] / 1e3:,.0f}k", file=sys.stderr, flush=True)
    finally:
        server.stop()
    bare = figures.get("bare")
    print(f"| {paths.TITLES[args.operation]}, nothing exported | instructions per call | added to bare |")
    print("|---|---:|---:|")
    for variant, value in figures.items():
        added = "" if bare is None or variant == "bare" else f"{(value - bare) / 1e3:+,.0f}k"
        print(f"| {variant} | {value / 1e3:,.0f}k | {added} |")


if __name__ == "__main__":
    main(sys.argv[1:])
