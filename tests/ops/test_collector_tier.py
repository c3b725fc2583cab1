"""The Collector tier of ops/collector/, run for real on loopback: two app processes → the load balancer (our ocb
distribution) → two tail-sampling collectors (the Jaeger binary) → Jaeger for traces, Prometheus for metrics.
Every config in ops/ is also checked with the binary that runs it (`validate`)."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.backends import (
    BALANCER_CONFIG,
    JAEGER_CONFIG,
    SAMPLER_CONFIG,
    Jaeger,
    Process,
    binary,
    loopback,
    validate,
)
from tests.support.e2e import instrumented_environment, launch
from tests.support.openai_server import OpenAIServer
from tests.support.prometheus import PrometheusServer, free_port, wait_until

SERVICE = "tier-app"
PLAN = {"plain": 150, "error": 5, "slow": 5, "debug": 5}
SPANS_PER_TRACE = 5  # upstream: request + two model calls (two threads); downstream: a span + one model call
SPANS_PER_SECOND = 15  # the plain share's limit, per sampler
DECISION_WAIT_SECONDS = 5
SLOW_MS = 1500


def test_every_ops_config_validates_with_the_binary_that_runs_it(tmp_path: Path) -> None:
    built = {"jaeger": binary("jaeger"), "balancer": binary("balancer")}
    checks = [
        (built["jaeger"], JAEGER_CONFIG, {}),
        (built["jaeger"], SAMPLER_CONFIG, {}),
        (built["balancer"], BALANCER_CONFIG, {"TAIL_SAMPLERS": "[sampler-0:4317, sampler-1:4317]"}),
    ]
    for program, config, env in checks:
        result = validate(program, config, env)
        assert result.returncode == 0, f"{config.name}:\n{result.stdout}\n{result.stderr}"
    # and a typo fails: `validate` is a real check
    broken = tmp_path / "broken.yaml"
    broken.write_text(SAMPLER_CONFIG.read_text().replace("type: status_code", "type: status_cod"))
    assert validate(built["jaeger"], broken, {}).returncode != 0
    shipped = {p.relative_to(SAMPLER_CONFIG.parents[1]) for p in SAMPLER_CONFIG.parents[1].glob("*/*.yaml")}
    assert {p for p in shipped if p.parts[0] in ("collector", "jaeger")} == {
        JAEGER_CONFIG.relative_to(SAMPLER_CONFIG.parents[1]),
        SAMPLER_CONFIG.relative_to(SAMPLER_CONFIG.parents[1]),
        BALANCER_CONFIG.relative_to(SAMPLER_CONFIG.parents[1]),
        Path("collector/builder-config.yaml"),
    }


def listening(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return True
    except OSError:
        return False


@dataclass
class Tier:
    jaeger: Jaeger
    samplers: list[Process]
    balancer: Process
    prometheus: PrometheusServer


@pytest.fixture(scope="module")
def tier(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tier]:
    workdir = tmp_path_factory.mktemp("tier")
    built = {"jaeger": binary("jaeger"), "balancer": binary("balancer")}
    jaeger = Jaeger(built["jaeger"], workdir)
    samplers = [
        Process(
            f"sampler-{i}",
            built["jaeger"],
            SAMPLER_CONFIG,
            {
                "SAMPLER_OTLP_GRPC_ENDPOINT": loopback(),
                "SAMPLER_TRACES_ENDPOINT": jaeger.otlp_grpc,
                "SAMPLER_PROMETHEUS_ENDPOINT": loopback(),
                "SAMPLER_METRICS_HOST": "127.0.0.1",
                "SAMPLER_METRICS_PORT": str(free_port()),
                "SAMPLER_DECISION_WAIT": f"{DECISION_WAIT_SECONDS}s",
                "SAMPLER_SLOW_MS": str(SLOW_MS),
                "SAMPLER_SPANS_PER_SECOND": str(SPANS_PER_SECOND),
            },
            workdir,
        )
        for i in range(2)
    ]
    balancer = Process(
        "balancer",
        built["balancer"],
        BALANCER_CONFIG,
        {
            "LB_OTLP_GRPC_ENDPOINT": loopback(),
            "LB_OTLP_HTTP_ENDPOINT": loopback(),
            "LB_METRICS_HOST": "127.0.0.1",
            "LB_METRICS_PORT": str(free_port()),
            "TAIL_SAMPLERS": "[" + ", ".join(s.env["SAMPLER_OTLP_GRPC_ENDPOINT"] for s in samplers) + "]",
        },
        workdir,
    )
    targets = [s.env["SAMPLER_PROMETHEUS_ENDPOINT"] for s in samplers]
    prometheus = PrometheusServer(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: tail-samplers\n"
        f"    honor_labels: true\n    static_configs:\n      - targets: {json.dumps(targets)}\n",
        workdir,
    )
    started: list[Any] = []
    try:
        jaeger.start()
        started.append(jaeger)
        for process in [*samplers, balancer]:
            process.start()
            started.append(process)
        for sampler in samplers:
            wait_until(
                lambda s=sampler: s.alive() and listening(s.env["SAMPLER_OTLP_GRPC_ENDPOINT"]), f"{sampler.name}"
            )
        wait_until(lambda: balancer.alive() and listening(balancer.env["LB_OTLP_HTTP_ENDPOINT"]), "the balancer")
        prometheus.start()
        started.append(prometheus)
        yield Tier(jaeger, samplers, balancer, prometheus)
    finally:
        for item in reversed(started):
            item.stop()


def run_apps(tier: Tier, server: OpenAIServer) -> tuple[list[dict[str, str]], float]:
    """Upstream and downstream side by side, upstream's lines fed to downstream as they come; (traces, seconds)."""
    endpoint = f"http://{tier.balancer.env['LB_OTLP_HTTP_ENDPOINT']}"
    plan = ",".join(f"{kind}={count}" for kind, count in PLAN.items())

    def environment(instance: str) -> dict[str, str]:
        return instrumented_environment(
            endpoint,
            server.base_url,
            {"OTEL_SERVICE_NAME": SERVICE, "OTEL_RESOURCE_ATTRIBUTES": f"service.instance.id={instance}"},
        )

    started = time.monotonic()
    upstream = subprocess.Popen(
        launch("tier_app.py", "upstream", server.base_url, plan),
        env=environment("upstream"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    downstream = subprocess.Popen(
        launch("tier_app.py", "downstream", server.base_url),
        env=environment("downstream"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    traces: list[dict[str, str]] = []

    def forward() -> None:
        assert upstream.stdout is not None and downstream.stdin is not None
        for line in upstream.stdout:
            traces.append(json.loads(line))
            downstream.stdin.write(line)
            downstream.stdin.flush()
        downstream.stdin.close()

    forwarder = threading.Thread(target=forward, daemon=True)
    forwarder.start()
    _, up_err = upstream.communicate(timeout=300)
    forwarder.join(timeout=60)
    down_out, down_err = downstream.communicate(timeout=300)
    assert upstream.returncode == 0, up_err
    assert downstream.returncode == 0 and f"done {sum(PLAN.values())}" in down_out, down_err
    return traces, time.monotonic() - started


def trace_id(traceparent: str) -> str:
    return traceparent.split("-")[1]


def tail_sampling_counts(tier: Tier) -> Counter[tuple[str, str]]:
    """(policy, sampled) -> traces, summed over both samplers' own metrics."""
    counts: Counter[tuple[str, str]] = Counter()
    pattern = re.compile(r"^otelcol_processor_tail_sampling_count_traces_sampled(?:_total)?\{(.*)\} (\S+)$")
    for sampler in tier.samplers:
        for line in sampler.metrics("SAMPLER_METRICS_PORT").splitlines():
            found = pattern.match(line)
            if found:
                labels = dict(re.findall(r'(\w+)="([^"]*)"', found.group(1)))
                counts[(labels["policy"], labels["sampled"])] += int(float(found.group(2)))
    return counts


def test_tail_sampling_keeps_every_error_slow_and_debug_trace_whole(tier: Tier, record_property: Any) -> None:
    with OpenAIServer() as server:
        sent, seconds = run_apps(tier, server)
    assert Counter(item["kind"] for item in sent) == Counter(PLAN)
    kinds = {trace_id(item["traceparent"]): item["kind"] for item in sent}

    def decided() -> dict[str, Any] | None:
        found = {t["traceID"]: t for t in tier.jaeger.traces(SERVICE, limit=5000)}
        wanted = [i for i, kind in kinds.items() if kind != "plain"]
        if not all(i in found and len(found[i]["spans"]) == SPANS_PER_TRACE for i in wanted):
            return None
        return found

    found = wait_until(decided, "every error, slow and debug trace whole in Jaeger", timeout=DECISION_WAIT_SECONDS + 60)
    # let the last decisions land: a plain trace decided late would otherwise be missed in the counts
    counts = wait_until(
        lambda: (
            (c := tail_sampling_counts(tier)) and sum(n for (p, _), n in c.items() if p == "errors") == len(kinds) and c
        ),
        "both samplers to decide every trace",
        timeout=60,
    )
    found = {t["traceID"]: t for t in tier.jaeger.traces(SERVICE, limit=5000)}
    assert set(found) <= set(kinds)  # nothing else, nothing made up
    # every kept trace is whole: its 5 spans, from both processes and their threads, decided at one sampler
    for trace in found.values():
        assert len(trace["spans"]) == SPANS_PER_TRACE, trace["traceID"]
        instances = {
            tag["value"]
            for process in trace["processes"].values()
            for tag in process["tags"]
            if tag["key"] == "service.instance.id"
        }
        assert instances == {"upstream", "downstream"}
    kept = Counter(kinds[i] for i in found)
    assert kept["error"] == PLAN["error"] and kept["slow"] == PLAN["slow"] and kept["debug"] == PLAN["debug"]
    # the plain share is cut to its rate: per sampler at most SPANS_PER_SECOND spans per second of decisions (plus
    # the trace that crosses the limit), over the time the traces arrived and were decided
    budget = 2 * (SPANS_PER_SECOND + SPANS_PER_TRACE) * (seconds + DECISION_WAIT_SECONDS + 2) / SPANS_PER_TRACE
    assert 0 < kept["plain"] <= min(budget, PLAN["plain"] / 2), (kept, budget)
    figures = {
        "sent": dict(Counter(kinds.values())),
        "kept": dict(kept),
        "seconds": round(seconds, 1),
        "policies": {f"{p}/{s}": n for (p, s), n in sorted(counts.items())},
    }
    record_property("tail_sampling", json.dumps(figures))
    print("tail sampling:", json.dumps(figures))
    # span metrics count every span, kept or not; the apps' own metrics arrive too (upstream: 2 calls per trace,
    # downstream: 1)
    total = sum(PLAN.values())
    spans_metric = f'sum(traces_span_metrics_calls_total{{service_name="{SERVICE}"}})'
    wait_until(lambda: tier.prometheus.value(spans_metric) == total * SPANS_PER_TRACE, "span metrics in Prometheus")
    calls = f'sum(gen_ai_client_operation_duration_seconds_count{{job="{SERVICE}"}})'
    wait_until(lambda: tier.prometheus.value(calls) == total * 3, "the apps' model-call metrics in Prometheus")
    errors = f'sum(gen_ai_client_operation_duration_seconds_count{{job="{SERVICE}", error_type!=""}})'
    assert tier.prometheus.value(errors) == PLAN["error"]
