"""CPU time of one `should_sample` call: `jaeger_remote` against the SDK's `ParentBased(TraceIdRatioBased)`.

    .venv/latest/bin/python benchmarks/sampler.py [--calls 200000] [--rounds 7]

Both samplers decide the same trace ids, for new traces (no parent: the strategy decides) and for children of a
sampled local parent (the parent decides). `jaeger_remote` is measured as the `jaeger_remote` entry point builds it
(parent-based, debug header/baggage and always-sample patterns checked first), with a probabilistic and a
per-operation strategy installed as a poll would install them; no thread polls. The configurations take turns
within each round, so a change in the machine's load falls on all alike; the table shows the median time per call
over the rounds and the ratio to the SDK sampler in the same round. Written to `benchmarks/sampler.md`.
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import sys
import time
from importlib import metadata
from pathlib import Path

from opentelemetry import baggage, context, trace
from opentelemetry.sdk.trace.sampling import ParentBased, Sampler, TraceIdRatioBased
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from opentelemetry_instrumentation_kotaemon.sdk.jaeger_remote import (
    JaegerRemoteSampler,
    RemoteSamplerConfig,
    parse_strategy,
)
from opentelemetry_instrumentation_kotaemon.sdk.sampling import KotaemonSampler

REPORT = Path(__file__).resolve().parent / "sampler.md"
RATE = 0.1


def remote(strategy: dict[str, object]) -> Sampler:
    inner = JaegerRemoteSampler(RemoteSamplerConfig(initial_sampling_rate=RATE), "bench", start=False)
    inner._strategy = parse_strategy(strategy)  # what a successful poll installs
    return KotaemonSampler(inner, ())


CONFIGS: dict[str, Sampler] = {
    "ParentBased(TraceIdRatioBased(0.1)) (SDK)": ParentBased(TraceIdRatioBased(RATE)),
    "jaeger_remote, probabilistic 0.1": remote({"strategyType": 0, "probabilisticSampling": {"samplingRate": RATE}}),
    "jaeger_remote, per operation (10 listed)": remote(
        {
            "strategyType": 0,
            "probabilisticSampling": {"samplingRate": RATE},
            "operationSampling": {
                "defaultSamplingProbability": RATE,
                "defaultLowerBoundTracesPerSecond": 0,
                "perOperationStrategies": [
                    {"operation": f"op{i}", "probabilisticSampling": {"samplingRate": RATE}} for i in range(10)
                ],
            },
        }
    ),
    # what Jaeger's adaptive sampling serves: every operation also has a lower bound (its default, one a minute)
    "jaeger_remote, per operation, lower bound 1/min": remote(
        {
            "strategyType": 0,
            "probabilisticSampling": {"samplingRate": RATE},
            "operationSampling": {
                "defaultSamplingProbability": RATE,
                "defaultLowerBoundTracesPerSecond": 1 / 60,
                "perOperationStrategies": [
                    {"operation": f"op{i}", "probabilisticSampling": {"samplingRate": RATE}} for i in range(10)
                ],
            },
        }
    ),
}


def timed(sampler: Sampler, parent: context.Context | None, ids: list[int]) -> float:
    should_sample = sampler.should_sample
    start = time.perf_counter()
    for trace_id in ids:
        should_sample(parent, trace_id, "op3")
    return (time.perf_counter() - start) / len(ids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    ids = [random.getrandbits(128) for _ in range(args.calls)]
    parent_span = SpanContext(1, 2, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    cases: dict[str, context.Context | None] = {
        "new trace": None,
        "new trace, baggage in the context": baggage.set_baggage("session.id", "s-1"),
        "child of a sampled parent": trace.set_span_in_context(NonRecordingSpan(parent_span)),
    }
    rows = []
    for case, parent in cases.items():
        rounds: dict[str, list[float]] = {name: [] for name in CONFIGS}
        for _ in range(args.rounds):
            for name, sampler in CONFIGS.items():
                rounds[name].append(timed(sampler, parent, ids))
        base = rounds[next(iter(CONFIGS))]
        for name, times in rounds.items():
            ratio = statistics.median(t / b for t, b in zip(times, base, strict=True))
            rows.append(f"| {case} | {name} | {statistics.median(times) * 1e9:.0f} | {ratio:.2f}x |")
    report = "\n".join(
        [
            "# `jaeger_remote` sampler: cost of `should_sample`",
            "",
            f"`python benchmarks/sampler.py --calls {args.calls} --rounds {args.rounds}` on Python "
            f"{platform.python_version()}, opentelemetry-sdk {metadata.version('opentelemetry-sdk')}, "
            f"{platform.machine()}, in a shared 2-core machine. Median over the rounds; the ratio is to the SDK "
            "sampler in the same round (goal: at most 2x).",
            "",
            "| Span | Sampler | ns per call | vs SDK |",
            "|---|---|---:|---:|",
            *rows,
            "",
            "The extra cost over the SDK sampler on new traces is the checks our samplers make before the strategy: "
            "the debug-header mark and debug baggage (only read when the context holds anything) and the "
            "always-sample patterns (none here). Reading the current strategy is one attribute load, no lock; a "
            "kept root also gets `sampler.type` and `sampler.param`, and a lower bound costs a rate limiter's lock "
            "on every new trace of its operation.",
            "",
        ]
    )
    REPORT.write_text(report)
    print(report)


if __name__ == "__main__":
    sys.exit(main())
