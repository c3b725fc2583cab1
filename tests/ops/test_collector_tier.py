"""The Collector tier of ops/collector/, run for real on loopback: two app processes → the load balancer (our ocb
distribution) → two tail-sampling collectors (the Jaeger binary) → Jaeger for traces, Prometheus for metrics.
Every config in ops/ is also checked with the binary that runs it (`validate`)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest

from tests.support.backends import (
    ADAPTIVE_CONFIG,
    BALANCER_CONFIG,
    JAEGER_CONFIG,
    SAMPLER_CONFIG,
    Jaeger,
    Process,
    binary,
    loopback,
    unique_port,
    validate,
)
from tests.support.e2e import APPS, instrumented_environment, launch
from tests.support.openai_server import OpenAIServer
from tests.support.prometheus import PrometheusServer, wait_until

SERVICE = "tier-app"
PLAN = {"plain": 150, "error": 5, "slow": 5, "debug": 5}
SPANS_PER_TRACE = 5  # upstream: request + two model calls (two threads); downstream: a span + one model call
SPANS_PER_SECOND = 15  # the plain share's limit, per sampler
DECISION_WAIT_SECONDS = 15  # downstream's spans may come seconds after upstream's on a loaded machine
SLOW_MS = 1500


def test_every_ops_config_validates_with_the_binary_that_runs_it(tmp_path: Path) -> None:
    built = {"jaeger": binary("jaeger"), "balancer": binary("balancer")}
    checks = [
        (built["jaeger"], JAEGER_CONFIG, {}),
        (built["jaeger"], ADAPTIVE_CONFIG, {}),
        (built["jaeger"], SAMPLER_CONFIG, {"SAMPLER_REPLICA": "sampler-0"}),
        (built["balancer"], BALANCER_CONFIG, {"TAIL_SAMPLERS": "[sampler-0:4317, sampler-1:4317]"}),
    ]
    for program, config, env in checks:
        result = validate(program, config, env)
        assert result.returncode == 0, f"{config.name}:\n{result.stdout}\n{result.stderr}"
    # a typo in a key or a reference fails `validate` (a wrong policy *value*, e.g. `type: status_cod`, passes it
    # and fails only at start: the tier test below runs every config)
    broken = tmp_path / "broken.yaml"
    for typo in (
        ("spike_limit_percentage", "spike_limit_percentag"),
        ("exporters: [otlp/jaeger]", "exporters: [jaegr]"),
    ):
        broken.write_text(SAMPLER_CONFIG.read_text().replace(*typo))
        assert validate(built["jaeger"], broken, {"SAMPLER_REPLICA": "sampler-0"}).returncode != 0, typo
    shipped = {p.relative_to(SAMPLER_CONFIG.parents[1]) for p in SAMPLER_CONFIG.parents[1].glob("*/*.yaml")}
    assert {p for p in shipped if p.parts[0] in ("collector", "jaeger")} == {
        JAEGER_CONFIG.relative_to(SAMPLER_CONFIG.parents[1]),
        ADAPTIVE_CONFIG.relative_to(SAMPLER_CONFIG.parents[1]),
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
                "SAMPLER_REPLICA": f"sampler-{i}",
                "SAMPLER_OTLP_GRPC_ENDPOINT": loopback(),
                "SAMPLER_TRACES_ENDPOINT": jaeger.otlp_grpc,
                "SAMPLER_PROMETHEUS_ENDPOINT": loopback(),
                "SAMPLER_METRICS_HOST": "127.0.0.1",
                "SAMPLER_METRICS_PORT": str(unique_port()),
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
            "LB_METRICS_PORT": str(unique_port()),
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


def run_apps(tier: Tier, server: OpenAIServer) -> list[dict[str, Any]]:
    """Upstream and downstream side by side, upstream's lines fed to downstream as they come; the traces sent."""
    endpoint = f"http://{tier.balancer.env['LB_OTLP_HTTP_ENDPOINT']}"
    plan = ",".join(f"{kind}={count}" for kind, count in PLAN.items())
    with tempfile.TemporaryFile("w+") as up_err, tempfile.TemporaryFile("w+") as down_err:
        return _run_apps(endpoint, server, plan, up_err, down_err)


def _run_apps(
    endpoint: str, server: OpenAIServer, plan: str, up_err: IO[str], down_err: IO[str]
) -> list[dict[str, Any]]:

    def environment(instance: str) -> dict[str, str]:
        return instrumented_environment(
            endpoint,
            server.base_url,
            {"OTEL_SERVICE_NAME": SERVICE, "OTEL_RESOURCE_ATTRIBUTES": f"service.instance.id={instance}"},
        )

    upstream = subprocess.Popen(
        launch("tier_app.py", "upstream", server.base_url, plan),
        env=environment("upstream"),
        stdout=subprocess.PIPE,
        stderr=up_err,
        text=True,
    )
    downstream = subprocess.Popen(
        launch("tier_app.py", "downstream", server.base_url),
        env=environment("downstream"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=down_err,
        text=True,
    )
    traces: list[dict[str, Any]] = []

    def forward() -> None:
        assert upstream.stdout is not None and downstream.stdin is not None
        for line in upstream.stdout:
            traces.append(json.loads(line))
            downstream.stdin.write(line)
            downstream.stdin.flush()
        downstream.stdin.close()

    forwarder = threading.Thread(target=forward, daemon=True)
    forwarder.start()
    forwarder.join(timeout=300)  # upstream's output ends when it exits
    assert downstream.stdout is not None
    down_out = downstream.stdout.read()
    for process, stderr in ((upstream, up_err), (downstream, down_err)):
        process.wait(timeout=60)
        stderr.seek(0)
        assert process.returncode == 0, stderr.read()
    assert f"done {sum(PLAN.values())}" in down_out, down_out
    return traces


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


def resident_bytes(metrics: str) -> float:
    """A collector's resident memory, from its own metrics."""
    (value,) = [
        float(line.split()[-1]) for line in metrics.splitlines() if line.startswith("otelcol_process_memory_rss")
    ]
    return value


def test_tail_sampling_keeps_every_error_slow_and_debug_trace_whole(tier: Tier, record_property: Any) -> None:
    with OpenAIServer() as server:
        sent = run_apps(tier, server)
    assert Counter(item["kind"] for item in sent) == Counter(PLAN)
    kinds = {trace_id(item["traceparent"]): item["kind"] for item in sent}

    wanted = [i for i, kind in kinds.items() if kind != "plain"]
    missing: dict[str, str] = {}

    def decided() -> dict[str, Any] | None:
        found = {t["traceID"]: t for t in tier.jaeger.traces(SERVICE, limit=5000)}
        missing.clear()
        for i in wanted:
            spans = sorted(s["operationName"] for s in found[i]["spans"]) if i in found else []
            if len(spans) != SPANS_PER_TRACE:
                missing[i] = f"{kinds[i]}: {len(spans)} of {SPANS_PER_TRACE} spans {spans}"
        return None if missing else found

    try:
        wait_until(decided, "every error, slow and debug trace whole in Jaeger", timeout=DECISION_WAIT_SECONDS + 60)
    except AssertionError as error:
        raise AssertionError(f"{error}; not yet: {missing}") from None
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
    # the plain share is cut to its rate: a sampler keeps a trace while the spans it kept in that second stay under
    # SPANS_PER_SECOND, so at most this many traces per second each, over the seconds in which traces were decided
    per_second = (SPANS_PER_SECOND - 1) // SPANS_PER_TRACE
    seconds = sent[-1]["time"] - sent[0]["time"]
    budget = 2 * per_second * (seconds + 3)  # decisions come in one-second ticks, decision_wait after arrival
    assert 0 < kept["plain"] <= budget < PLAN["plain"], (kept, budget)
    figures = {
        "sent": dict(Counter(kinds.values())),
        "kept": dict(kept),
        "seconds sending": round(seconds, 1),
        "policies": {f"{p}/{s}": n for (p, s), n in sorted(counts.items())},
        "rss MiB": {
            process.name: round(resident_bytes(process.metrics(port)) / 2**20)
            for process, port in [(s, "SAMPLER_METRICS_PORT") for s in tier.samplers]
            + [(tier.balancer, "LB_METRICS_PORT")]
        },
    }
    record_property("tail_sampling", json.dumps(figures))
    print("tail sampling:", json.dumps(figures))
    # span metrics count every span, kept or not; the apps' own metrics arrive too (upstream: 2 calls per trace,
    # downstream: 1)
    total = sum(PLAN.values())
    spans_metric = f'sum(traces_span_metrics_calls_total{{service_name="{SERVICE}"}})'
    calls = f'sum(gen_ai_client_operation_duration_seconds_count{{job="{SERVICE}"}})'
    try:
        wait_until(lambda: tier.prometheus.value(spans_metric) == total * SPANS_PER_TRACE, "span metrics")
        wait_until(lambda: tier.prometheus.value(calls) == total * 3, "the apps' model-call metrics")
    except AssertionError as error:
        names = tier.prometheus.api("label/__name__/values")
        found = {expr: tier.prometheus.value(expr) for expr in (spans_metric, calls)}
        raise AssertionError(f"{error}; Prometheus has {found} and the names {names}") from None
    errors = f'sum(gen_ai_client_operation_duration_seconds_count{{job="{SERVICE}", error_type!=""}})'
    assert tier.prometheus.value(errors) == PLAN["error"]


# --- a pre-fork server: every worker exports its metrics as its own instance

PREFORK_SERVICE = "prefork-app"
LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")


class Gunicorn:
    """`opentelemetry-instrument gunicorn --workers 2 wsgi_app:app` (tests/apps), exporting metrics to `endpoint`
    every second, in a session of its own."""

    def __init__(self, endpoint: str, base_url: str) -> None:
        env = instrumented_environment(
            endpoint,
            base_url,
            {
                "OTEL_SERVICE_NAME": PREFORK_SERVICE,
                "OTEL_TRACES_EXPORTER": "none",
                "OTEL_LOGS_EXPORTER": "none",
                "OTEL_METRIC_EXPORT_INTERVAL": "1000",
            },
        )
        bin_dir = Path(sys.executable).parent
        self.stderr = tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed by stop()
        self.process = subprocess.Popen(
            [
                str(bin_dir / "opentelemetry-instrument"),
                str(bin_dir / "gunicorn"),
                *("--workers", "2", "--bind", "127.0.0.1:0", "--chdir", str(APPS), "wsgi_app:app"),
            ],
            env=env,
            stderr=self.stderr,
            start_new_session=True,
        )
        port = wait_until(self._port, "gunicorn to listen", 60)
        self.url = f"http://127.0.0.1:{port}/"

    def _port(self) -> int | None:
        assert self.process.poll() is None, self.log()
        found = LISTENING.search(self.log())
        return int(found.group(1)) if found else None

    def log(self) -> str:
        return os.pread(self.stderr.fileno(), 1 << 20, 0).decode(errors="replace")

    def ask(self) -> int:
        """One request; the pid of the worker that served it."""
        with urllib.request.urlopen(self.url, timeout=60) as response:
            return int(json.load(response)["pid"])

    def stop(self) -> str:
        """SIGTERM to the server (its workers end with it); SIGKILL to the session if it hangs. Its log."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        log = self.log()
        self.stderr.close()
        return log


def test_each_worker_of_a_prefork_server_is_a_series_of_its_own(tier: Tier, record_property: Any) -> None:
    # On SDK 1.27 both workers exported with one resource and no service.instance.id: Prometheus got one series,
    # which jumped between the two workers' counts (a counter reset at every jump)
    counter = f'gen_ai_client_operation_duration_seconds_count{{job="{PREFORK_SERVICE}"}}'
    with OpenAIServer() as server:
        app = Gunicorn(f"http://{tier.balancer.env['LB_OTLP_HTTP_ENDPOINT']}", server.base_url)
        served: Counter[int] = Counter()
        try:
            started = time.monotonic()
            with ThreadPoolExecutor(2) as pool:  # two at a time: both sync workers get requests
                while len(served) < 2 or min(served.values()) < 20 or time.monotonic() - started < 15:
                    served.update(pool.map(lambda _: app.ask(), range(2)))
                    time.sleep(0.05)  # pacing: the requests spread over several metric exports
                    assert time.monotonic() - started < 120, served

            def per_instance() -> dict[str, float]:
                return {
                    dict(labels)["instance"]: value
                    for labels, value in tier.prometheus.values(f"sum by (instance) ({counter})").items()
                }

            try:
                wait_until(
                    lambda: sorted(per_instance().values()) == sorted(served.values()), "every request counted", 60
                )
            except AssertionError as error:
                resets = tier.prometheus.values(f"resets({counter}[10m])")
                raise AssertionError(f"{error}: served {served}, series {per_instance()}, resets {resets}") from None
        finally:
            log = app.stop()
    instances = per_instance()
    assert len(instances) == 2 and "" not in instances, instances
    resets = tier.prometheus.values(f"resets({counter}[10m])")
    assert resets and set(resets.values()) == {0.0}, resets
    assert "Traceback" not in log, log
    figures = {"requests per worker": sorted(served.values()), "series": instances, "resets": sum(resets.values())}
    record_property("prefork", json.dumps(figures))
    print("pre-fork:", json.dumps(figures))
