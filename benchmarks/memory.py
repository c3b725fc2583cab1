"""Memory and per-run bookkeeping over many instrumented calls in one process: does anything grow?

One process, instrumented with `KotaemonInstrumentor` and exporting spans and metrics over OTLP/HTTP to the
benchmark's sink (`benchmarks/otlp_sink.py`, its own process), makes in turn:

- `--calls` OpenAI chat calls through the real client to the local model server (`benchmarks/model_server.py`):
  plain calls, streams read to the end and streams left after the first chunk;
- `--langchain-runs` runs of the LangChain RAG chain of the benchmarks (`benchmarks/paths.py`: retriever, prompt,
  `ChatOpenAI` on the same server, parser): plain, failing in a step after the model, streamed to the end, and
  streams left after the first chunk;
- `--kotaemon-calls` calls of a Kotaemon chat component (the test suite's stand-in on the real theflow), plain and
  streamed.

Everything is imported and set up before the first call. Each phase makes a tenth of its calls as warm-up, then
samples, at every further tenth (after a flush of the providers and a garbage collection), the memory blocks Python
has allocated (`sys.getallocatedblocks`), the process RSS, with `--tracemalloc` Python's traced memory too (which
makes every call about twice as slow), and the size of our bookkeeping: LangChain's run table and its cached
per-class decisions, the OpenAI server cache, the Kotaemon family cache. It prints a Markdown table: memory after
the warm-up and at the end, the growth per call in between, and the largest bookkeeping size seen at a sample.
Usage, from the repository root with a test environment's interpreter:
`python benchmarks/memory.py [--calls 100000] [--langchain-runs 100000] [--kotaemon-calls 2000] [--tracemalloc]`
(about 40 minutes on a busy 2-core machine; the Kotaemon stand-in is slow because theflow stores a record of every
run).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.kotaemon_standin import use  # noqa: E402

use()

SAMPLES = 10


@dataclass
class Phase:
    name: str
    calls: int
    blocks: list[int] = field(default_factory=list)
    rss: list[int] = field(default_factory=list)
    traced: list[int] = field(default_factory=list)
    bookkeeping: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


@contextlib.contextmanager
def _helper(module: str) -> Iterator[str]:
    """A helper process of the benchmark (model server, OTLP sink): yields the first line it prints."""
    process = subprocess.Popen(
        [sys.executable, "-m", module], cwd=str(REPO), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None and process.stdin is not None
    try:
        yield process.stdout.readline().strip()
    finally:
        process.stdin.close()
        process.wait(timeout=30)


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _bookkeeping() -> dict[str, int]:
    """The size of every table the instrumentation keeps between calls.

    Each table is reached from the instrumentation itself. A search of every object in the process (`gc`) grew the
    very memory this measures: about 470,000 more allocated blocks, most of them at the first samples.
    """
    from langchain_core.tracers.context import _configure_hooks

    from opentelemetry_instrumentation_kotaemon import KotaemonInstrumentor
    from opentelemetry_instrumentation_kotaemon.kotaemon import Components
    from opentelemetry_instrumentation_kotaemon.langchain.handler import TelemetryCallbackHandler
    from opentelemetry_instrumentation_kotaemon.openai import requests as openai_requests

    # Our handler is the default of the context variable we registered as a LangChain configure hook (LangChain's
    # own hook variables may have no value at all).
    handlers = []
    for variable, *_ in _configure_hooks:
        with contextlib.suppress(LookupError):
            handlers.append(variable.get())
    trackers = [handler.tracker for handler in handlers if isinstance(handler, TelemetryCallbackHandler)]
    if not trackers:
        raise RuntimeError("no LangChain run tracker: the LangChain instrumentation is not on")
    cleanups = [cleanup for patcher in KotaemonInstrumentor()._patchers for cleanup in patcher._cleanups]
    components = [c.__self__ for c in cleanups if isinstance(getattr(c, "__self__", None), Components)]
    return {
        "LangChain runs": sum(len(t) for t in trackers),
        "LangChain decisions": sum(len(t._decisions) for t in trackers),
        "OpenAI server cache": len(openai_requests.SERVERS),
        "Kotaemon family cache": sum(len(c._families) for c in components),
    }


def _measure(phase: Phase, call: Callable[[int], None], flush: Callable[[], None]) -> None:
    step = max(phase.calls // SAMPLES, 1)
    started = time.perf_counter()
    for i in range(phase.calls):
        call(i)
        if (i + 1) % step == 0:
            flush()
            gc.collect()
            phase.blocks.append(sys.getallocatedblocks())
            phase.rss.append(_rss())
            if tracemalloc.is_tracing():
                phase.traced.append(tracemalloc.get_traced_memory()[0])
            for name, size in _bookkeeping().items():
                phase.bookkeeping[name] = max(phase.bookkeeping.get(name, 0), size)
    phase.seconds = time.perf_counter() - started


def _openai_calls(base_url: str) -> Callable[[int], None]:
    import openai

    client = openai.OpenAI(base_url=base_url, api_key="k", max_retries=0)
    messages = [{"role": "user", "content": "What is the answer?"}]

    def call(i: int) -> None:
        if i % 4 == 0:
            for _ in client.chat.completions.create(model="m-stream", messages=messages, stream=True):
                pass
        elif i % 4 == 1:
            stream = client.chat.completions.create(model="m-left", messages=messages, stream=True)
            next(iter(stream))
            stream.close()
        else:
            client.chat.completions.create(model="m-chat", messages=messages)

    return call


def _langchain_runs(base_url: str) -> Callable[[int], None]:
    from langchain_core.runnables import RunnableLambda

    from benchmarks.paths import rag_chain

    def fail(text: str) -> str:
        raise ValueError("a step after the model failed")

    chain = rag_chain(base_url, model="lc-bench")
    failing = chain | RunnableLambda(fail)

    def call(i: int) -> None:
        if i % 10 == 0:
            with contextlib.suppress(ValueError):
                failing.invoke("q")
        elif i % 10 == 1:
            stream = chain.stream("q")
            next(stream)
            stream.close()
        elif i % 10 == 2:
            for _chunk in chain.stream("q"):
                pass
        else:
            chain.invoke("q")

    return call


def _kotaemon_calls(base_url: str) -> Callable[[int], None]:
    from kotaemon.llms import ChatOpenAI

    llm = ChatOpenAI(model="kt-bench", base_url=base_url, api_key="k")

    def call(i: int) -> None:
        if i % 4 == 0:
            for _ in llm.stream("hi"):
                pass
        else:
            llm("hi")

    return call


def _growth(samples: list[int], calls: int, unit: str, scale: float) -> str:
    """First and last sample (in `scale` times `unit`), and the growth per call in between (in `unit`)."""
    if not samples:
        return "-"
    per_call = (samples[-1] - samples[0]) / (calls - calls // SAMPLES)
    return f"{samples[0] / scale:,.1f} → {samples[-1] / scale:,.1f} ({per_call:+.3f} {unit}/call)"


def _row(phase: Phase) -> str:
    books = ", ".join(f"{name} {size}" for name, size in phase.bookkeeping.items())
    return (
        f"| {phase.name} | {phase.calls:,} | {_growth(phase.blocks, phase.calls, 'blocks', 1e3)} "
        f"| {_growth(phase.rss, phase.calls, 'B', 1e6)} | {_growth(phase.traced, phase.calls, 'B', 1e6)} "
        f"| {books} | {phase.seconds:.0f} s |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--langchain-runs", type=int, default=100_000)
    parser.add_argument("--kotaemon-calls", type=int, default=2_000)
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--output", type=Path, help="also write the report (Markdown) to this file")
    args = parser.parse_args()
    if args.tracemalloc:
        tracemalloc.start()
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from opentelemetry_instrumentation_kotaemon import KotaemonInstrumentor

    with _helper("benchmarks.model_server") as base_url, _helper("benchmarks.otlp_sink") as sink:
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{sink}/v1/traces")))
        reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=f"{sink}/v1/metrics"), 5_000)
        meter_provider = MeterProvider(metric_readers=[reader])
        KotaemonInstrumentor().instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)

        def flush() -> None:
            tracer_provider.force_flush()
            meter_provider.force_flush()

        phases = [
            (Phase("OpenAI chat (client)", args.calls), _openai_calls(base_url)),
            (Phase("LangChain chain runs", args.langchain_runs), _langchain_runs(base_url)),
            (Phase("Kotaemon LLM calls", args.kotaemon_calls), _kotaemon_calls(base_url)),
        ]
        _bookkeeping()  # imports what it reads before the first sample
        for phase, call in phases:
            _measure(phase, call, flush)
        tracer_provider.shutdown()
        meter_provider.shutdown()
    table = [
        f"Python {sys.version.split()[0]}; memory after the warm-up tenth → at the end (growth per call)",
        "",
        "| calls | count | allocated blocks (thousands) | RSS (MB) | traced memory (MB) | bookkeeping | time |",
        "|---|---:|---:|---:|---:|---|---:|",
        *(_row(phase) for phase, _ in phases),
    ]
    print("\n".join(table))
    if args.output is not None:
        command = " ".join(["python benchmarks/memory.py", *sys.argv[1:]])
        header = f"# Memory over many calls\n\n{__doc__}\n```\n{command}\n```\n\n"
        args.output.write_text(header + "\n".join(table) + "\n")


if __name__ == "__main__":
    main()
