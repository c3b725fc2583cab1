"""Jaeger's adaptive sampling (ops/jaeger/jaeger-adaptive.yaml) with `jaeger_remote`: one sampling budget for a fleet.

Stock Jaeger v1.76 counts the root spans our sampler keeps, per operation (its aggregator counts only roots that
carry `sampler.type`/`sampler.param`). It does not serve what it calculates on a single instance (the leader never
reloads: docs/jaeger-adaptive-leader.md), so the fleet test runs the same Jaeger built with that one condition fixed
(`make jaeger-leaderfix`, test only).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.backends import ADAPTIVE_CONFIG, Jaeger, binary
from tests.support.prometheus import wait_until
from tests.support.sampling_app import SamplingApp

BUSY, QUIET = "busy", "quiet"
PER_APP = {BUSY: 200 / 11, QUIET: 20 / 11}  # 20 roots a second per app, ten times more busy than quiet
APPS = 4
TARGET = 7.0  # traces per second per operation, for the whole fleet
# Jaeger's probability before it has counted an operation: 12% above busy's share (7 of 72.7/s), 1/9 of quiet's
# (7 of 7.3/s), which Jaeger reaches in three doubling steps. Jaeger counts every root of its latest interval, those
# kept with the previous probability too, so a large step down overshoots and takes minutes to settle; up, its
# steps are capped at doubling, which the mixed counts only confirm.
INITIAL = 0.107
LOWER_BOUND = 0.25  # traces per second per operation and process, kept whatever the probability
WINDOW = 1.0  # seconds per app report
MEASURED_OVER = 45.0  # seconds of reports measured once Jaeger has served its last step


def adaptive_settings(**extra: str) -> dict[str, str]:
    """The shipped config's variables, its intervals shortened for a test (Jaeger's defaults are minutes)."""
    return {
        "JAEGER_CALCULATION_INTERVAL": "15s",
        "JAEGER_CALCULATION_DELAY": "0s",
        "JAEGER_TARGET_SAMPLES_PER_SECOND": f"{TARGET:g}",
        "JAEGER_INITIAL_SAMPLING_PROBABILITY": f"{INITIAL:g}",
        "JAEGER_MIN_SAMPLES_PER_SECOND": f"{LOWER_BOUND:g}",
        **extra,
    }


def operations_calculated(jaeger: Jaeger) -> float:
    """Jaeger's own gauge: the operations its adaptive sampling calculated probabilities for, last time."""
    found = re.search(r"^adaptive_sampling_processor_operations_calculated\{[^}]*\} (\S+)$", jaeger.own_metrics(), re.M)
    return float(found.group(1)) if found else 0.0


def served(jaeger: Jaeger, service: str) -> dict[str, float]:
    """The probabilities Jaeger serves `service` by operation (empty: none calculated and served yet)."""
    strategy = jaeger.strategy(service).get("operationSampling") or {}
    return {
        entry["operation"]: entry["probabilisticSampling"]["samplingRate"]
        for entry in strategy.get("perOperationStrategies") or ()
    }


def test_stock_jaeger_counts_our_roots_per_operation(tmp_path: Path) -> None:
    jaeger = Jaeger(
        binary("jaeger"),
        tmp_path,
        config=ADAPTIVE_CONFIG,
        settings=adaptive_settings(JAEGER_CALCULATION_INTERVAL="1s", JAEGER_INITIAL_SAMPLING_PROBABILITY="0.5"),
    )
    jaeger.start()
    try:
        arg = f"endpoint={jaeger.sampling},pollingIntervalMs=500,initialSamplingRate=0.5"
        # the SDK's own sampler keeps roots without the tags: Jaeger counts nothing
        plain = SamplingApp(
            jaeger.otlp_http, "plain-sdk", 4, PER_APP, "0.5", window=WINDOW, sampler="parentbased_traceidratio"
        )
        assert plain.finish() is not None and plain.process.returncode == 0
        assert operations_calculated(jaeger) == 0
        # ours: both operations counted (the gauge is over every service: this one's two)
        ours = SamplingApp(
            jaeger.otlp_http, "ours", 30, PER_APP, arg, window=WINDOW, sampler="parentbased_jaeger_remote"
        )
        try:
            wait_until(lambda: operations_calculated(jaeger) == 2, "Jaeger to calculate both operations", 30)
        finally:
            stderr = ours.finish(kill=True)
        assert "jaeger_remote" not in stderr, stderr
    finally:
        jaeger.stop()


class Fleet:
    """Four app processes under `parentbased_jaeger_remote`, their reports gathered as they come."""

    def __init__(self, otlp_http: str, sampling: str, seconds: float) -> None:
        arg = f"endpoint={sampling},pollingIntervalMs=1000,initialSamplingRate={INITIAL:g}"
        self.apps = [
            SamplingApp(otlp_http, "fleet", seconds, PER_APP, arg, window=WINDOW, sampler="parentbased_jaeger_remote")
            for _ in range(APPS)
        ]
        self.reports: list[list[dict[str, Any]]] = [[] for _ in self.apps]

    def gather(self) -> None:
        for app, reports in zip(self.apps, self.reports, strict=True):
            reports.extend(app.windows_so_far())

    def rates(self, start: float, end: float) -> dict[str, dict[str, float]]:
        """Per operation: roots started, kept, and kept by the lower bound per second by the whole fleet, from the
        reports ending in (start, end], each app's counts over the time its reports cover; `by probability` is what
        Jaeger counts (and targets)."""
        totals = {name: {"started": 0.0, "kept": 0.0, "lower bound": 0.0} for name in PER_APP}
        for reports in self.reports:
            inside = [r for r in reports if start < r["end"] <= end]
            if not inside:
                continue
            seconds = len(inside) * WINDOW
            for name in PER_APP:
                for index, key in enumerate(("started", "kept", "lower bound")):
                    totals[name][key] += sum(r["counts"][name][index] for r in inside) / seconds
        for rates in totals.values():
            rates["by probability"] = rates["kept"] - rates["lower bound"]
        return totals

    def stop(self) -> list[str]:
        return [app.finish(kill=True) for app in self.apps]


@pytest.fixture
def fleet_jaeger(tmp_path: Path) -> Iterator[Jaeger]:
    jaeger = Jaeger(binary("jaeger-leaderfix"), tmp_path, config=ADAPTIVE_CONFIG, settings=adaptive_settings())
    yield jaeger
    jaeger.stop()


def within(rate: float, target: float, tolerance: float = 0.3) -> bool:
    return abs(rate - target) <= tolerance * target


def test_a_fleet_converges_to_one_budget_per_operation(fleet_jaeger: Jaeger, record_property: Any) -> None:
    jaeger = fleet_jaeger
    started_at = time.monotonic()
    # The apps start first, at the initial probability, so that Jaeger's first count covers the whole fleet (a
    # count from apps still starting would make its first step a wrong one, which Jaeger corrects only slowly).
    fleet = Fleet(jaeger.otlp_http, jaeger.sampling, seconds=240)
    try:
        wait_until(lambda: fleet.gather() or all(fleet.reports), "every app to report", 60)
        jaeger.start()
        jaeger_at = time.time()
        served_now: dict[str, float] = {}

        def quiet_ramped() -> bool:
            fleet.gather()  # keep the pipes drained
            served_now.update(served(jaeger, "fleet"))
            return served_now.get(QUIET, 0.0) > 6 * INITIAL

        try:
            wait_until(quiet_ramped, "Jaeger to serve quiet its third step", 150)
        except AssertionError as error:
            raise AssertionError(f"{error}: serving {served_now}") from None
        ramped_at = time.time()
        time.sleep(2 * WINDOW + MEASURED_OVER)  # every app polls within a second; then 45 s of reports, measured
        fleet.gather()
        rates = fleet.rates(ramped_at + 2 * WINDOW, ramped_at + 2 * WINDOW + MEASURED_OVER)
        probabilities = served(jaeger, "fleet")
        # what Jaeger counts and targets, the roots kept by their operation's probability: within 30% of the target;
        # with the lower bound (at most LOWER_BOUND per process on top), the fleet's whole budget stays bounded
        for name in PER_APP:
            assert within(rates[name]["by probability"], TARGET), (name, rates, probabilities)
            assert rates[name]["kept"] <= 1.3 * TARGET + APPS * LOWER_BOUND, (name, rates, probabilities)
        # Jaeger calculated both operations from our roots and serves each its own probability, near the share of
        # its traffic that meets the target: quiet's went up eightfold in three steps (at most doubling each time)
        assert operations_calculated(jaeger) == 2
        for name, per_app in PER_APP.items():
            assert within(probabilities[name], TARGET / (APPS * per_app), 0.4), probabilities
        assert probabilities[QUIET] > 4 * INITIAL, probabilities
        # the quiet operation kept at least its lower bound in every app, in every 8 s from Jaeger's first answer
        for reports in fleet.reports:
            answered = [r["counts"][QUIET] for r in reports if r["end"] > jaeger_at + 2 * WINDOW]
            for first in range(0, len(answered) - 7, 8):
                span = answered[first : first + 8]
                started, kept = sum(c[0] for c in span), sum(c[1] for c in span)
                assert kept >= min(started, LOWER_BOUND * 8 * WINDOW - 1), span

        # Jaeger stopped: every app keeps the strategy it had, says so once, and keeps sampling with it
        jaeger.stop()
        stopped_at = time.time()
        for app in fleet.apps:
            wait_until(lambda app=app: "cannot reach" in app.stderr_so_far().split("answers again")[-1], "a warning")
        time.sleep(8 * WINDOW)  # reports made while Jaeger is down
        fleet.gather()
        down_from, down_to = stopped_at + 2 * WINDOW, time.time()
        down = fleet.rates(down_from, down_to)
        for name in PER_APP:  # the probability kept (not the initial one): at most 4 standard deviations short
            expected = probabilities[name] * down[name]["started"]
            shortfall = 4 * (expected / (down_to - down_from)) ** 0.5
            assert down[name]["kept"] >= expected - shortfall, (name, down, probabilities)
        # back: each app answers once more and follows what Jaeger serves now (a new Jaeger: the initial probability)
        jaeger.start()
        for app in fleet.apps:
            wait_until(lambda app=app: app.stderr_so_far().count("answers again") == 2, "the apps to recover", 30)
        recovered_at = time.time()
    finally:
        stderrs = fleet.stop()
    for stderr in stderrs:
        lines = [line for line in stderr.splitlines() if "jaeger_remote" in line]
        # at start (no Jaeger yet) and when it was stopped: one warning and one recovery each time, no more
        assert len(lines) == 4, stderr
        assert "cannot reach" in lines[2] and "keeping per operation {busy: " in lines[2], lines
        assert f"answers again; sampling per operation {{}}; other operations probabilistic {INITIAL:g}" in lines[3]
    down_rates = {name: round(down[name]["kept"], 2) for name in PER_APP}
    result = {
        "target per operation": TARGET,
        "fleet roots per second": {name: round(rates[name]["started"], 1) for name in PER_APP},
        "kept by probability per second, 45 s measured": {
            name: round(rates[name]["by probability"], 2) for name in PER_APP
        },
        "kept by the lower bound per second": {name: round(rates[name]["lower bound"], 2) for name in PER_APP},
        "served": {name: round(p, 4) for name, p in probabilities.items()},
        "last step served after Jaeger started, s": round(ramped_at - jaeger_at, 1),
        "kept per second while Jaeger was down": down_rates,
        "recovered after Jaeger restarted, s": round(recovered_at - stopped_at, 1),
        "test seconds": round(time.monotonic() - started_at, 1),
    }
    record_property("fleet", result)
    print("fleet:", result)
