"""CPU time per call that OpenAI-client instrumentation adds, ours against a bare run, a bare span and two peers.

Run it from the repository root with the benchmark environment (`make bench` builds it and runs this script):

    .venv/bench/bin/python benchmarks/overhead.py [--calls 1000] [--rounds 5] [--profile ours] [--package-ref HEAD]

Every configuration runs in a fresh worker process (instrumentors patch globally); the OpenAI-compatible server
and the OTLP receiver run in processes of their own, so their CPU is not counted. In a round all configurations'
workers run side by side: each makes `--warmup` unmeasured calls, then they take turns making `--batch` calls
each until every one has made `--calls`, so a change in the machine's load falls on all of them alike. A worker's
CPU time is that of its whole process (`time.process_time()`, every thread, so the exporter threads count) from
the first measured call to the end of a `force_flush` of every provider, so export is paid inside the window. A
configuration's overhead in a round is its CPU per call minus the bare worker's in the same round; the table shows
the median over the rounds with the range. Then two runs, ours and bare, measure memory (RSS and tracemalloc)
after a fifth of `--memory-calls` (10,000) and at the end.

The table is printed and written to `benchmarks/results.md`, the raw figures of every round to
`benchmarks/results.json` (`--render` rewrites the report from them). `--profile CONFIG` instead runs one
configuration under cProfile and prints its hotspots.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import gc
import importlib.metadata
import io
import json
import os
import platform
import pstats
import statistics
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

sys.path.insert(0, str(Path(__file__).resolve().parent))

import paths  # the benchmark's own module, next to this file

REPO = Path(__file__).resolve().parent.parent
PACKAGE = "opentelemetry_instrumentation_kotaemon"
RESULTS = REPO / "benchmarks" / "results.md"

CONFIGS = (
    "bare",
    "bare-span",
    "ours",
    "ours-no-usage-request",
    "ours-unsampled",
    "official",
    "official-openai",
    "openllmetry",
    "openinference",
)
CONFIG_NOTES = {
    "bare": "the path alone, no OpenTelemetry",
    "bare-span": "SDK + OTLP export, one manual span with 5 attributes around each call of the path",
    "ours": (
        "SDK + OTLP export + `KotaemonInstrumentor().instrument()`, content off, streams asked for their usage (as"
        " the default asks api.openai.com)"
    ),
    "ours-no-usage-request": (
        "ours with `OTEL_KOTAEMON_OPENAI_STREAM_USAGE=false`: streams without the usage chunk we otherwise ask for"
        " (no token counts for streams the app did not ask usage for)"
    ),
    "ours-unsampled": "ours with the `always_off` sampler",
    "official": (
        "SDK + OTLP export + the official GenAI instrumentations `opentelemetry-instrumentation-genai-openai` and"
        " `opentelemetry-instrumentation-genai-langchain`, content off"
    ),
    "official-openai": (
        "the official `opentelemetry-instrumentation-genai-openai` alone: what the official pair traces where the"
        " `langchain` package is not installed (its LangChain instrumentor then instruments nothing)"
    ),
    "openllmetry": (
        "SDK + OTLP export + OpenLLMetry's `opentelemetry-instrumentation-openai` and"
        " `opentelemetry-instrumentation-langchain`, content off"
    ),
    "openinference": (
        "SDK + OTLP export + `openinference-instrumentation-openai` and `openinference-instrumentation-langchain`,"
        " inputs and outputs hidden"
    ),
}
PEERS = paths.PEERS
OPERATIONS = paths.OPERATIONS
OPERATION_TITLES = paths.TITLES
MEMORY_CONFIGS = ("bare", "ours")
GOALS = {"chat": 3, "stream": 4, "kotaemon": 3}
"""Goals in bare exported spans per span ours makes: at most this many times what one bare span adds."""
MEMORY_CALLS = 10_000
"""Calls of a memory run; memory is read after a fifth of them and at the end."""
MEMORY_GROWTH_LIMIT = 16
"""Traced bytes per call from which memory counts as growing (allocator and cache noise stays far below)."""

CHAT_MODEL = paths.CHAT_MODEL
EMBEDDING_MODEL = paths.EMBEDDING_MODEL
PACKAGES = (
    "openai",
    "langchain",
    "langchain-core",
    "langchain-openai",
    "langgraph",
    "theflow",
    "opentelemetry-api",
    "opentelemetry-sdk",
    "opentelemetry-exporter-otlp-proto-http",
    "opentelemetry-instrumentation",
    "opentelemetry-instrumentation-kotaemon",
    "opentelemetry-instrumentation-openai",
    "opentelemetry-instrumentation-genai-openai",
    "opentelemetry-instrumentation-langchain",
    "opentelemetry-instrumentation-genai-langchain",
    "opentelemetry-util-genai",
    "openinference-instrumentation-openai",
    "openinference-instrumentation-langchain",
    "wrapt",
    "protobuf",
)


# --------------------------------------------------------------------------------------------------- worker side


@dataclass
class Pipeline:
    """The OpenTelemetry SDK of a worker: flushed inside the measured window, shut down after it."""

    flush: Callable[[], None]
    shutdown: Callable[[], None]


NEVER_MS = 10**9
"""A timer that never fires within a benchmark: exports happen at the flushes only."""


def configure_sdk(endpoint: str, sampled: bool, service_name: str, timers: bool = True, ours: bool = False) -> Pipeline:
    """Tracer, meter and logger providers exporting OTLP/HTTP with the SDK's production defaults.

    BatchSpanProcessor (5 s schedule delay, batches of 512) and PeriodicExportingMetricReader (60 s interval),
    set as the global providers the way `opentelemetry-instrument` does. With `ours`, the exporters are the ones our
    configurator builds under `opentelemetry-instrument` (the SDK's, wrapped in our delivery), so that what they add
    per exported span is measured too.
    """
    from opentelemetry import _logs, metrics, trace
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

    if ours:
        from opentelemetry_instrumentation_kotaemon.sdk.shims import import_exporters_with_bounded_retries

        http = ["otlp_proto_http"]
        built = import_exporters_with_bounded_retries(http, http, http)
        OTLPSpanExporter, OTLPMetricExporter, OTLPLogExporter = (next(iter(kind.values())) for kind in built)
    resource = Resource.create({"service.name": service_name})
    tracer_provider = TracerProvider(resource=resource, sampler=None if sampled else ALWAYS_OFF)
    delay = {} if timers else {"schedule_delay_millis": NEVER_MS}
    tracer_provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces"), **delay)  # type: ignore[arg-type]
    )
    interval = {} if timers else {"export_interval_millis": NEVER_MS}
    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=f"{endpoint}/v1/metrics"),
        **interval,  # type: ignore[arg-type]
    )
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(
        BatchLogRecordProcessor(OTLPLogExporter(endpoint=f"{endpoint}/v1/logs"), **delay)  # type: ignore[arg-type]
    )
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(meter_provider)
    _logs.set_logger_provider(logger_provider)

    def flush() -> None:
        tracer_provider.force_flush()
        meter_provider.force_flush()
        logger_provider.force_flush()

    def shutdown() -> None:
        tracer_provider.shutdown()
        meter_provider.shutdown()
        logger_provider.shutdown()

    return Pipeline(flush, shutdown)


def instrument(config: str) -> None:
    """Turn on the instrumentation a configuration measures (none for `bare` and `bare-span`)."""
    if config == "ours-no-usage-request":
        os.environ["OTEL_KOTAEMON_OPENAI_STREAM_USAGE"] = "false"
    elif config.startswith("ours"):  # the benchmark's server stands in for api.openai.com, whose streams we ask
        os.environ["OTEL_KOTAEMON_OPENAI_STREAM_USAGE"] = "always"
    paths.instrument(config)


class Workload:
    """The measured paths against the benchmark server, with a count of the streamed chunks seen."""

    def __init__(self, base_url: str, operations: Sequence[str]) -> None:
        self.counter = [0]
        self.paths: dict[str, Callable[[], None]] = {}
        if any(op in paths.OPENAI for op in operations):
            self.paths.update(paths.openai_paths(base_url, self.counter))
        if any(op in paths.LANGCHAIN for op in operations):
            self.paths.update(paths.langchain_paths(base_url, self.counter))
        if any(op in paths.KOTAEMON for op in operations):
            self.paths.update(paths.kotaemon_paths(base_url))

    @property
    def chunks(self) -> int:
        return self.counter[0]

    def calls(self) -> dict[str, Callable[[], None]]:
        return self.paths


def with_manual_span(operation: str, model: str, port: int, call: Callable[[], None]) -> Callable[[], None]:
    """`call` inside one CLIENT span carrying 5 attributes: what any span-based instrumentation pays at least per
    span it makes (for the chain and pipeline paths: the floor of one span per run)."""
    from opentelemetry import trace
    from opentelemetry.trace import SpanKind

    tracer = trace.get_tracer("overhead-benchmark")
    name = f"{operation} {model}"
    attributes = {
        "gen_ai.operation.name": operation,
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": model,
        "server.address": "127.0.0.1",
        "server.port": port,
    }

    def traced() -> None:
        with tracer.start_as_current_span(name, kind=SpanKind.CLIENT, attributes=attributes):
            call()

    return traced


def prepare(
    config: str,
    base_url: str,
    endpoint: str,
    operations: Sequence[str] = OPERATIONS,
    service_name: str | None = None,
    timers: bool = True,
) -> tuple[Workload, dict[str, Callable[[], None]], Pipeline]:
    """Set up a configuration in this (fresh) process: SDK, instrumentation, then the paths, in that order."""
    pipeline = Pipeline(lambda: None, lambda: None)
    if config != "bare":
        ours = config.startswith("ours")
        pipeline = configure_sdk(endpoint, config != "ours-unsampled", service_name or config, timers, ours)
        instrument(config)
    workload = Workload(base_url, operations)
    calls = workload.calls()
    if config == "bare-span":
        port = int(base_url.split(":")[2].split("/")[0])
        calls = {
            operation: with_manual_span(
                "embeddings" if operation == "embeddings" else "chat",
                EMBEDDING_MODEL if operation == "embeddings" else CHAT_MODEL,
                port,
                call,
            )
            for operation, call in calls.items()
        }
    return workload, calls, pipeline


def serve(args: argparse.Namespace) -> None:
    """Set up one configuration, then run the parent's commands from standard input, one a line.

    `warm OP N` makes N unmeasured calls and flushes; `collect` runs a full garbage collection; `begin OP` starts
    the CPU clock; `run OP N` makes N calls; `end OP` flushes every provider, stops the clock and answers the CPU
    seconds per call (and the chunks seen per streamed call) as JSON; `quit` shuts the SDK down and answers the
    profiles, if `--profile` was given. Every other answer is `ok`. Between commands the worker waits without using
    CPU (its exporter threads may still work, and count).
    """
    workload, calls, pipeline = prepare(
        args.config, args.base_url, args.endpoint, args.operations, args.service_name, not args.no_timers
    )
    profiles: dict[str, Any] = {}
    profiler: cProfile.Profile | None = None
    started_cpu, started_chunks, made = 0.0, 0, 0
    print("ready", flush=True)
    for line in sys.stdin:
        command, *rest = line.split()
        answer: Any = "ok"
        if command in ("warm", "run"):
            call = calls[rest[0]]
            for _ in range(int(rest[1])):
                call()
            if command == "warm":
                pipeline.flush()
                gc.collect()
            else:
                made += int(rest[1])
        elif command == "collect":
            gc.collect()
        elif command == "begin":
            made, started_chunks = 0, workload.chunks
            if args.profile:
                profiler = cProfile.Profile()
                profiler.enable()
            started_cpu = time.process_time()
        elif command == "end":
            pipeline.flush()
            cpu = time.process_time() - started_cpu
            if profiler is not None:
                profiler.disable()
                profiles[rest[0]] = hotspots(profiler)
            answer = {"cpu": cpu / made, "chunks": (workload.chunks - started_chunks) / made}
        elif command == "quit":
            pipeline.shutdown()
            answer = profiles
        print(json.dumps(answer), flush=True)
        if command == "quit":
            return


def rss_bytes() -> int:
    """The resident set size of this process now."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def measure_memory(args: argparse.Namespace) -> dict[str, Any]:
    """Cycle chat, streamed chat and embeddings; RSS and traced Python memory at each checkpoint of calls."""
    _workload, calls, pipeline = prepare(args.config, args.base_url, args.endpoint, paths.OPENAI)
    cycle = [calls[operation] for operation in paths.OPENAI]
    for call in cycle * args.warmup:
        call()
    pipeline.flush()
    gc.collect()
    tracemalloc.start()
    checkpoints: list[dict[str, int]] = []
    first: tracemalloc.Snapshot | None = None
    growth_sites: list[str] = []
    done = 0
    for target in (args.memory_calls // 5, args.memory_calls):
        for index in range(done, target):
            cycle[index % len(cycle)]()
        done = target
        pipeline.flush()
        gc.collect()
        if first is None:
            first = tracemalloc.take_snapshot()  # before the reading, so the snapshot itself is not growth
            traced = tracemalloc.get_traced_memory()[0]
        else:
            traced = tracemalloc.get_traced_memory()[0]
            ignore = [tracemalloc.Filter(False, tracemalloc.__file__)]
            stats = tracemalloc.take_snapshot().filter_traces(ignore).compare_to(first.filter_traces(ignore), "lineno")
            growth_sites = [short_path(str(stat)) for stat in stats[:5] if stat.size_diff > 0]
        checkpoints.append({"calls": target, "rss": rss_bytes(), "traced": traced})
    tracemalloc.stop()
    pipeline.shutdown()
    return {"checkpoints": checkpoints, "growth_sites": growth_sites}


GROUPS = (
    ("opentelemetry_instrumentation_kotaemon", "ours"),
    ("opentelemetry/", "opentelemetry"),
    ("wrapt/", "wrapt"),
    ("openai/", "openai"),
    ("langchain", "langchain"),
    ("langgraph", "langgraph"),
    ("theflow", "theflow"),
    ("openinference", "openinference"),
    ("pydantic", "pydantic"),
    ("httpx2/", "http"),
    ("httpcore2/", "http"),
    ("h11/", "http"),
    ("anyio/", "http"),
)
INSTRUMENTATION_GROUPS = ("ours", "opentelemetry", "wrapt")


def group_of(filename: str) -> str:
    """The package a profiled function belongs to, by its file."""
    for marker, group in GROUPS:
        if marker in filename:
            return group
    return "benchmark" if filename.endswith("overhead.py") else "stdlib"


def hotspots(profiler: cProfile.Profile, top: int = 15) -> dict[str, Any]:
    """Own time by package (built-ins charged to their callers) and the instrumentation's busiest functions."""
    entries = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in entries.values()) or 1.0
    groups: dict[str, float] = {}
    for (filename, _line, _function), (_calls, _ncalls, tottime, _cumtime, callers) in entries.items():
        if filename == "~":  # a built-in: its time goes to whoever called it
            for caller, (_cc, _nc, caller_tottime, _ct) in callers.items():
                group = group_of(caller[0])
                groups[group] = groups.get(group, 0.0) + caller_tottime
        else:
            groups[group_of(filename)] = groups.get(group_of(filename), 0.0) + tottime
    ranked = sorted(
        (item for item in entries.items() if group_of(item[0][0]) in INSTRUMENTATION_GROUPS),
        key=lambda item: item[1][2],
        reverse=True,
    )
    rows = [
        {
            "function": f"{short_path(filename)}:{line}({function})",
            "calls": ncalls,
            "own_share": tottime / total,
            "cumulative_share": cumtime / total,
        }
        for (filename, line, function), (_calls, ncalls, tottime, cumtime, _callers) in ranked[:top]
    ]
    shares = {group: value / total for group, value in sorted(groups.items(), key=lambda item: -item[1])}
    return {"groups": shares, "top": rows}


def short_path(filename: str) -> str:
    """A file name from site-packages or the package, without the machine-specific prefix."""
    if f"{PACKAGE}/" in filename:
        return PACKAGE + filename.split(PACKAGE, 1)[1]
    for marker in ("site-packages/", f"{REPO}/", f"{sysconfig.get_paths()['stdlib']}/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


# --------------------------------------------------------------------------------------------------- parent side


class Service:
    """A helper process (the OpenAI-compatible server or the OTLP receiver) that prints its address first."""

    def __init__(self, *command: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, *command],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=worker_environment(),
        )
        self.lock = threading.Lock()
        self.address = self._stdout().readline().strip()
        if not self.address.startswith("http://"):
            self.stop()
            raise RuntimeError(f"{command} did not start")

    def _stdout(self) -> TextIO:
        assert self.process.stdout is not None
        return self.process.stdout

    def ask(self, command: str) -> str:
        """Send one command line and read one answer line (one question at a time, from any thread)."""
        assert self.process.stdin is not None
        with self.lock:
            self.process.stdin.write(command + "\n")
            self.process.stdin.flush()
            return self._stdout().readline().strip()

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.terminate()
        self.process.wait(timeout=10)


@contextmanager
def services() -> Iterator[tuple[Service, Service]]:
    """The OpenAI-compatible server and the OTLP receiver, each in its own process."""
    server = Service("-m", "benchmarks.model_server")
    try:
        sink = Service("-m", "benchmarks.otlp_sink")
        try:
            yield server, sink
        finally:
            sink.stop()
    finally:
        server.stop()


def worker_environment(package_copy: Path | None = None) -> dict[str, str]:
    """The caller's environment without OpenTelemetry, OpenLLMetry or OpenAI settings; content capture off.

    `package_copy` is a folder holding an exported copy of the package, imported instead of the working tree.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TRACELOOP_", "OPENAI_"))}
    env["TRACELOOP_TRACE_CONTENT"] = "false"  # OpenLLMetry captures prompts unless told not to
    for hidden in ("INPUTS", "OUTPUTS", "INPUT_MESSAGES", "OUTPUT_MESSAGES"):  # OpenInference captures by default
        env[f"OPENINFERENCE_HIDE_{hidden}"] = "true"
    env["PYTHONPATH"] = os.pathsep.join(str(path) for path in (package_copy, REPO) if path is not None)
    return env


@contextmanager
def package_at(ref: str | None) -> Iterator[Path | None]:
    """A temporary copy of the package as committed at `ref` (git), or None to use the working tree."""
    if ref is None:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="bench-package-") as folder:
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", ref, PACKAGE], capture_output=True, check=True
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(folder, filter="data")
        yield Path(folder)


def worker_command(mode: str, config: str, server: Service, sink: Service, args: argparse.Namespace) -> list[str]:
    """The command line of a worker process that runs `mode` (serve or memory) for one configuration."""
    return [
        sys.executable,
        str(Path(__file__).resolve()),
        mode,
        config,
        f"--base-url={server.address}",
        f"--endpoint={sink.address}",
        f"--warmup={args.warmup}",
        f"--memory-calls={args.memory_calls}",
        f"--operations={','.join(args.operations)}",
    ]


class Worker:
    """One configuration's worker process (`serve` mode), driven one command line at a time."""

    def __init__(self, config: str, server: Service, sink: Service, args: argparse.Namespace, profile: bool) -> None:
        self.config = config
        self.errors = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (lives as long as the worker; see kill)
        self.process = subprocess.Popen(
            worker_command("serve", config, server, sink, args) + (["--profile"] if profile else []),
            cwd=REPO,
            env=worker_environment(args.package_copy),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.errors,
            text=True,
        )

    def _read(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.process.wait(timeout=10)
            self.errors.seek(0)
            raise RuntimeError(f"the {self.config} worker stopped:\n{self.errors.read()}")
        return line.strip()

    def wait_ready(self) -> None:
        if self._read() != "ready":
            raise RuntimeError(f"the {self.config} worker did not start")

    def ask(self, command: str) -> Any:
        """Send one command; its JSON answer."""
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return json.loads(self._read())

    def close(self) -> Any:
        """Shut the worker down; the profiles it answers with."""
        profiles = self.ask("quit")
        self.process.wait(timeout=60)
        return profiles

    def kill(self) -> None:
        """Stop the worker if it still runs, and drop what it wrote to stderr."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.errors.close()


@dataclass
class RoundResult:
    """One round: per configuration and operation the worker's answer and the spans received per call; profiles."""

    figures: dict[str, dict[str, dict[str, float]]]
    spans_per_call: dict[str, dict[str, float]]
    profiles: dict[str, Any]


def calls_of(operation: str, calls: int) -> int:
    """The calls of `operation` for `calls` OpenAI calls: the slower paths make fewer, at least 5."""
    return max(calls // paths.WEIGHTS[operation], 5)


def run_round(
    configs: Sequence[str], server: Service, sink: Service, args: argparse.Namespace, profile: bool = False
) -> RoundResult:
    """Every configuration in a fresh worker, all measured side by side in small interleaved batches.

    The workers take turns, `--batch` calls each (the first to go rotates), so a change of load on the machine
    falls on all configurations alike; each worker's CPU clock runs from `begin` to `end` of an operation. An
    operation is run only by the configurations that trace its path (`paths.configs_for`).
    """
    sink.ask("clear")
    workers = [Worker(config, server, sink, args, profile) for config in configs]
    try:
        for worker in workers:
            worker.wait_ready()
        figures: dict[str, dict[str, dict[str, float]]] = {config: {} for config in configs}
        spans: dict[str, dict[str, float]] = {config: {} for config in configs}
        for operation in args.operations:
            active = [w for w in workers if w.config in paths.configs_for(operation, tuple(configs))]
            calls, warmup = calls_of(operation, args.calls), calls_of(operation, args.warmup)
            batch = max(calls_of(operation, args.batch), 1)
            before = json.loads(sink.ask("stats"))["services"]
            for worker in active:
                worker.ask(f"warm {operation} {warmup}")
            for worker in active:
                worker.ask(f"begin {operation}")
            for first in range(0, calls, batch):
                size = min(batch, calls - first)
                shift = (first // batch) % len(active)
                for worker in active[shift:] + active[:shift]:
                    worker.ask(f"run {operation} {size}")
            for worker in active:
                figures[worker.config][operation] = worker.ask(f"end {operation}")
            after = json.loads(sink.ask("stats"))["services"]
            for worker in active:
                received = after.get(worker.config, 0) - before.get(worker.config, 0)
                spans[worker.config][operation] = received / (calls + warmup)
        profiles = {worker.config: worker.close() for worker in workers}
    finally:
        for worker in workers:
            worker.kill()
    return RoundResult(figures, spans, profiles)


def run_memory(configs: Sequence[str], server: Service, sink: Service, args: argparse.Namespace) -> dict[str, Any]:
    """The memory runs of `configs`, side by side (they measure memory, not CPU, so they may share the cores)."""
    env = worker_environment(args.package_copy)
    processes = {
        config: subprocess.Popen(
            worker_command("memory", config, server, sink, args),
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for config in configs
    }
    results = {}
    for config, process in processes.items():
        stdout, stderr = process.communicate(timeout=900)
        if process.returncode != 0:
            raise RuntimeError(f"the {config} memory run failed:\n{stderr}")
        results[config] = json.loads(stdout.strip().splitlines()[-1])
    return results


@dataclass
class Samples:
    """Per-call CPU seconds of one configuration and operation, one value per round."""

    cpu: list[float] = field(default_factory=list)
    chunks: list[float] = field(default_factory=list)


@dataclass
class Figure:
    """A median with its range, in microseconds."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Figure:
        micros = [value * 1e6 for value in seconds]
        return cls(statistics.median(micros), min(micros), max(micros))

    def scaled(self, factor: float) -> Figure:
        return Figure(self.median * factor, self.low * factor, self.high * factor)

    def text(self, signed: bool = False) -> str:
        sign = "+" if signed and self.median >= 0 else ""
        return f"{sign}{self.median:,.0f} ({self.low:,.0f} to {self.high:,.0f})"


@dataclass
class Run:
    """Everything measured in one benchmark run."""

    samples: dict[tuple[str, str], Samples]
    spans_per_call: dict[str, float]
    """Spans the sink received per call, by "config operation"."""
    memory: dict[str, dict[str, Any]]
    calls: int
    rounds: int
    warmup: int
    batch: int
    seconds: float
    load: tuple[float, float]
    command: str
    package: str
    python: str
    versions: list[str]
    machine: str

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["samples"] = {f"{config} {operation}": vars(value) for (config, operation), value in self.samples.items()}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Run:
        samples = {}
        for key, value in data["samples"].items():
            config, operation = key.split(" ")
            samples[config, operation] = Samples(**value)
        return cls(**{**data, "samples": samples, "load": tuple(data["load"])})

    def absolute(self, config: str, operation: str) -> Figure:
        return Figure.of(self.samples[config, operation].cpu)

    def overhead(self, config: str, operation: str) -> Figure:
        """CPU per call added to the bare run, paired round by round."""
        bare = self.samples["bare", operation].cpu
        return Figure.of([value - base for value, base in zip(self.samples[config, operation].cpu, bare, strict=True)])

    def chunks(self) -> float:
        return statistics.median(self.samples["bare", "stream"].chunks)


def benchmark(args: argparse.Namespace, argv: Sequence[str]) -> Run:
    """All rounds of all configurations, then the memory runs."""
    started, load, package = time.perf_counter(), os.getloadavg()[0], package_origin(args.package_ref)
    samples: dict[tuple[str, str], Samples] = {}
    spans: dict[str, list[float]] = {}
    with services() as (server, sink):
        for round_number in range(args.rounds):
            result = run_round(args.configs, server, sink, args)
            for config in args.configs:
                for operation, figures in result.figures[config].items():
                    found = samples.setdefault((config, operation), Samples())
                    found.cpu.append(figures["cpu"])
                    found.chunks.append(figures["chunks"])
                    spans.setdefault(f"{config} {operation}", []).append(result.spans_per_call[config][operation])
                print(
                    f"round {round_number + 1}/{args.rounds} {config:>15}: "
                    + ", ".join(f"{op} {f['cpu'] * 1e6:,.0f} µs" for op, f in result.figures[config].items()),
                    flush=True,
                )
        memory = run_memory(MEMORY_CONFIGS, server, sink, args) if args.memory_calls else {}
        for config, found in memory.items():
            print(f"memory {config}: {found['checkpoints']}", flush=True)
    return Run(
        samples=samples,
        spans_per_call={config: statistics.median(values) for config, values in spans.items()},
        memory=memory,
        calls=args.calls,
        rounds=args.rounds,
        warmup=args.warmup,
        batch=args.batch,
        seconds=time.perf_counter() - started,
        load=(load, os.getloadavg()[0]),
        command=" ".join(["python benchmarks/overhead.py", *argv]),
        package=package,
        python=f"{platform.python_version()} ({platform.python_implementation()})",
        versions=versions(),
        machine=machine(),
    )


def profile(args: argparse.Namespace) -> None:
    """Run one configuration under cProfile (main thread only) and print its hotspots per operation."""
    with services() as (server, sink):
        result = run_round([args.profile_config], server, sink, args, profile=True)
    for operation, found in result.profiles[args.profile_config].items():
        print(f"\n{args.profile_config}, {OPERATION_TITLES[operation]}: {args.calls} calls, main thread")
        print("own time by package: " + ", ".join(f"{group} {share:.1%}" for group, share in found["groups"].items()))
        print(f"{'own':>6} {'cum':>6} {'calls':>8}  function (instrumentation only)")
        for row in found["top"]:
            print(f"{row['own_share']:6.1%} {row['cumulative_share']:6.1%} {row['calls']:8d}  {row['function']}")


# --------------------------------------------------------------------------------------------------- report


def table(run: Run, operation: str) -> str:
    """The Markdown table of one path: bare CPU per call, then what each configuration adds to it."""
    floor = run.overhead("bare-span", operation).median if ("bare-span", operation) in run.samples else 0.0
    lines = [
        "| configuration | µs per call | x one bare span | spans exported per call |",
        "|---|---:|---:|---:|",
        f"| bare (absolute) | {run.absolute('bare', operation).text()} | | |",
    ]
    for config in CONFIGS[1:]:
        if (config, operation) not in run.samples:
            continue
        added = run.overhead(config, operation)
        ratio = f"{added.median / floor:.1f}x" if floor > 0 else "-"
        lines.append(
            f"| {config} (added) | {added.text(True)} | {ratio} | {run.spans_per_call[f'{config} {operation}']:.2f} |"
        )
    if operation == "stream":
        chunks = run.chunks()
        lines.append(
            f"\nA streamed call yields {chunks:.0f} chunks: ours adds "
            f"{run.overhead('ours', operation).median / chunks:,.1f} µs per chunk."
        )
    return "\n".join(lines)


def goal_lines(run: Run) -> list[str]:
    """The issue's goals, checked against this run's medians."""
    lines = []
    for operation in OPERATIONS:
        if ("ours", operation) not in run.samples:
            continue
        ours = run.overhead("ours", operation).median
        floor = run.overhead("bare-span", operation).median
        spans = run.spans_per_call[f"ours {operation}"] or 1.0
        peers = {peer: run.overhead(peer, operation).median for peer in PEERS if (peer, operation) in run.samples}
        peer_text = ", ".join(f"{peer} {value:,.0f} µs" for peer, value in peers.items())
        per_span = f"{ours / floor / spans:.1f}x a bare span per span made" if floor > 0 else "no measurable floor"
        verdict = f"- {OPERATION_TITLES[operation]}: ours adds {ours:,.0f} µs per call ({spans:.0f} spans), {per_span}"
        goal = GOALS.get(operation)
        if goal is not None and floor > 0:
            verdict += f" (goal at most {goal}x: {'met' if ours / floor / spans <= goal else 'MISSED'})"
        if peers:
            below = all(ours < value for value in peers.values())
            verdict += f"; below every peer ({peer_text}): {'yes' if below else 'NO'}"
        lines.append(verdict)
    lines.append(
        "- The ranges above overlap where the medians are close: a verdict whose margin lies inside them is not firm."
    )
    ours_memory = run.memory.get("ours")
    if ours_memory is not None:
        first, last = ours_memory["checkpoints"]
        per_call = (last["traced"] - first["traced"]) / (last["calls"] - first["calls"])
        grows = per_call >= MEMORY_GROWTH_LIMIT or last["rss"] - first["rss"] >= 2**20
        lines.append(
            f"- memory: ours {'GROWS' if grows else 'does not grow'} per call ({per_call:+,.2f} B of traced memory per "
            f"call, RSS {(last['rss'] - first['rss']) / 2**20:+,.1f} MiB between the two readings; see below). A short "
            "run: `memory.md` follows one process over 20,000 and 100,000 OpenAI calls and 100,000 LangChain chain "
            "runs, counting Python's allocated blocks"
        )
    return lines


def memory_lines(run: Run) -> list[str]:
    """RSS and traced-memory growth between the memory checkpoints, per call."""
    if not run.memory:
        return ["(no memory run: `--memory-calls 0`)"]
    first_calls, last_calls = (checkpoint["calls"] for checkpoint in next(iter(run.memory.values()))["checkpoints"])
    span = f"{first_calls:,} → {last_calls:,} calls"
    lines = [
        f"| configuration | RSS after {first_calls:,} calls | RSS after {last_calls:,} calls "
        f"| tracemalloc growth {span} | growth per call |",
        "|---|---:|---:|---:|---:|",
    ]
    for config, result in run.memory.items():
        first, last = result["checkpoints"]
        growth = last["traced"] - first["traced"]
        lines.append(
            f"| {config} | {first['rss'] / 2**20:,.1f} MiB | {last['rss'] / 2**20:,.1f} MiB "
            f"| {growth / 1024:+,.1f} KiB | {growth / (last_calls - first_calls):+,.2f} B |"
        )
    for config, result in run.memory.items():
        if result["growth_sites"]:
            lines.append(f"\nLargest traced growth sites for {config} ({span}):\n")
            lines.extend(f"- `{site}`" for site in result["growth_sites"])
    return lines


def command_output(*command: str) -> str:
    """What a shell command prints (for the machine facts)."""
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    return done.stdout.strip()


def versions() -> list[str]:
    """The installed versions of the packages that matter here."""
    found = []
    for name in PACKAGES:
        try:
            found.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return found


def package_origin(ref: str | None) -> str:
    """Which code of the package was measured: a commit, and whether uncommitted changes were part of it."""
    commit = command_output("git", "-C", str(REPO), "rev-parse", "--short", ref or "HEAD")
    if ref is not None:
        return f"the package as committed at {commit}"
    dirty = command_output("git", "-C", str(REPO), "status", "--porcelain", "--", PACKAGE)
    return f"the package from the working tree at commit {commit}" + (" with uncommitted changes" if dirty else "")


def machine() -> str:
    """What `nproc` and `lscpu | head` say, as a shell transcript."""
    lscpu = subprocess.run("lscpu | head", shell=True, capture_output=True, text=True, check=False).stdout.strip()
    return f"$ nproc\n{command_output('nproc')}\n$ lscpu | head\n{lscpu}"


def report(run: Run) -> str:
    """results.md: the command, the machine, the versions, the method, the table and the goal check."""
    config_lines = [f"- `{config}`: {note}" for config, note in CONFIG_NOTES.items()]
    return "\n".join(
        [
            "# Instrumentation overhead",
            "",
            "CPU time per call that instrumentation adds to every path this package traces (the OpenAI client, a "
            "LangChain RAG chain invoked and streamed, a LangGraph agent, a Kotaemon RAG pipeline; see "
            "`benchmarks/paths.py`), measured by `benchmarks/overhead.py`.",
            "",
            "## Command",
            "",
            "```",
            "make bench",
            f"# which runs: .venv/bench/bin/{run.command}",
            "```",
            "",
            f"{run.rounds} rounds x up to {len(CONFIGS)} configurations x {run.calls:,} measured OpenAI calls per "
            f"operation (after {run.warmup} warm-up calls; the slower paths make proportionally fewer: "
            f"{', '.join(f'{op} /{w}' for op, w in paths.WEIGHTS.items() if w > 1)}, at least 5); the whole run "
            f"took {run.seconds / 60:.1f} minutes. "
            f"Load average (1 min) at the start {run.load[0]:.2f}, at the end {run.load[1]:.2f}: other work on "
            "the machine shares its cores and makes single rounds noisy, hence the paired rounds and medians.",
            "",
            "## Machine and versions",
            "",
            "```",
            run.machine,
            "```",
            "",
            f"Python {run.python}; measured: {run.package}.",
            "",
            *[f"- {line}" for line in run.versions],
            "",
            "Nothing is pinned in `benchmarks/requirements.txt`: every peer installs beside the OpenTelemetry release "
            "that the resolver picks for this package, openai 3.x and langchain-core 1.x. The peers' packages share "
            "one environment: each worker turns on only its configuration's instrumentors, programmatically, so "
            "their `opentelemetry_instrumentor` entry points (several named `openai` and `langchain`) never meet.",
            "",
            "## Configurations",
            "",
            *config_lines,
            "",
            "Each configuration runs in its own fresh worker process, new for every round; the OpenAI-compatible "
            "server (`tests/support/openai_server.py`, sending each stream in one write: `benchmarks/model_server.py`)"
            " and the OTLP/HTTP receiver (`benchmarks/otlp_sink.py`) run in two other processes, so their CPU is not "
            "counted. Export is real OTLP/HTTP protobuf with the SDK's production defaults (BatchSpanProcessor, 5 s "
            "schedule delay; PeriodicExportingMetricReader, 60 s interval). The workers of a round run side by side "
            f"and take turns of {run.batch} calls, so load changes on the machine hit every configuration alike. CPU "
            "is `time.process_time()` of the whole worker process (every thread, so the exporter threads count) from "
            "the first measured call to the end of a `force_flush` of every provider, so the export of every span "
            "and at least one metric export are paid inside the window. Content capture is off everywhere "
            "(`TRACELOOP_TRACE_CONTENT=false` for OpenLLMetry, `OPENINFERENCE_HIDE_*` for OpenInference, whose "
            "defaults are on). A configuration runs a path only if it traces it: no peer traces Kotaemon.",
            "",
            "## CPU per call",
            "",
            "Median over the rounds, with the lowest and highest round in brackets, in microseconds. The first row "
            "is the bare path's own CPU per call; every other row is what the configuration adds to it (its CPU "
            "per call minus the bare run's in the same round), and that as a multiple of what one bare exported "
            "span adds.",
            "",
            *[f"### {OPERATION_TITLES[op]}\n\n{table(run, op)}\n" for op in OPERATIONS if ("bare", op) in run.samples],
            "## Goal check (issue: ours at most 3x one bare exported span per span made for chat and Kotaemon, 4x "
            "for streamed chat, below every peer, no memory growth per call)",
            "",
            *goal_lines(run),
            "",
            "## Memory",
            "",
            "Chat, streamed chat and embeddings in turn, after a warm-up; tracemalloc on from the first measured "
            "call; readings after a flush and a garbage collection.",
            "",
            *memory_lines(run),
            "",
        ]
    )


# --------------------------------------------------------------------------------------------------- entry point


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=1000, help="measured calls per operation and round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds over all configurations")
    parser.add_argument("--warmup", type=int, default=100, help="unmeasured calls per operation first")
    parser.add_argument("--batch", type=int, default=50, help="calls a worker makes per turn")
    parser.add_argument("--memory-calls", type=int, default=MEMORY_CALLS, help="calls of each memory run")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the Markdown report")
    parser.add_argument("--render", action="store_true", help="rewrite the report from the saved raw figures")
    parser.add_argument("--profile", dest="profile_config", choices=CONFIGS, help="profile one configuration")
    parser.add_argument("--configs", type=_names(CONFIGS), default=CONFIGS, help="comma-separated configurations")
    parser.add_argument(
        "--operations", type=_names(OPERATIONS), default=OPERATIONS, help="comma-separated paths to measure"
    )
    parser.add_argument(
        "--package-ref", help="measure the package as committed at this git ref instead of the working tree"
    )
    sub = parser.add_subparsers(dest="mode")
    for mode in ("serve", "memory"):
        worker = sub.add_parser(mode, help=f"internal: {mode} one configuration in this process")
        worker.add_argument("config", choices=CONFIGS)
        worker.add_argument("--base-url", required=True)
        worker.add_argument("--endpoint", required=True)
        worker.add_argument("--warmup", type=int, default=100)
        worker.add_argument("--profile", action="store_true")
        worker.add_argument("--memory-calls", type=int, default=MEMORY_CALLS)
        worker.add_argument("--operations", type=_names(OPERATIONS), default=OPERATIONS)
        worker.add_argument("--service-name", help="the service name its spans are exported with (default: config)")
        worker.add_argument(
            "--no-timers", action="store_true", help="export at the flushes only, never on the SDK's timers"
        )
    parsed = parser.parse_args(argv)
    if "bare" not in parsed.configs:
        parser.error("--configs needs bare: every figure is added to it")
    return parsed


def _names(known: Sequence[str]) -> Callable[[str], tuple[str, ...]]:
    """An argparse type: a comma-separated subset of `known`, in `known`'s order."""

    def names(text: str) -> tuple[str, ...]:
        given = {name.strip() for name in text.split(",") if name.strip()}
        unknown = given - set(known)
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown: {', '.join(sorted(unknown))}")
        return tuple(name for name in known if name in given)

    return names


def main(argv: Sequence[str]) -> None:
    args = parse(argv)
    if args.mode == "serve":
        serve(args)
        return
    if args.mode == "memory":
        print(json.dumps(measure_memory(args)))
        return
    raw = args.output.with_suffix(".json")
    if args.render:
        run = Run.from_json(json.loads(raw.read_text()))
    else:
        with package_at(args.package_ref) as copy:
            args.package_copy = copy
            if args.profile_config:
                profile(args)
                return
            run = benchmark(args, argv)
        raw.write_text(json.dumps(run.to_json(), indent=1) + "\n")
    print()
    for operation in OPERATIONS:
        if ("bare", operation) in run.samples:
            print(f"{OPERATION_TITLES[operation]}\n{table(run, operation)}\n")
    print("\n".join(goal_lines(run)))
    print("\n".join(memory_lines(run)))
    args.output.write_text(report(run))
    print(f"\nwritten to {short_path(str(args.output.resolve()))} (raw figures: {raw.name})")


if __name__ == "__main__":
    main(sys.argv[1:])
