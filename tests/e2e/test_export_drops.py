"""Spans and log records dropped under load are reported as drops, with a count and the variable to raise; a real
export failure right after them still gets its own line."""

from __future__ import annotations

import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator

import opentelemetry.sdk.version
import pytest

from tests.support.e2e import REPO, instrumented_environment, launch
from tests.support.otlp_receiver import OtlpReceiver

BURST = 200
QUEUE_SIZE = 4
SDK_COUNTS_DROPS = tuple(int(part) for part in opentelemetry.sdk.version.__version__.split(".")[:2]) >= (1, 28)
"""SDK 1.27 says "Queue is full, likely spans will be dropped." once per processor and drops log records silently;
later releases log every dropped span and log record."""


class BurstApp:
    """`tests/apps/burst_app.py` under `opentelemetry-instrument`, its standard error read line by line as it comes."""

    def __init__(self, env: dict[str, str], receiver: OtlpReceiver) -> None:
        self.process = subprocess.Popen(
            launch("burst_app.py"),
            env=instrumented_environment(receiver.endpoint, "", env),
            cwd=str(REPO),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stderr: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr.append(line.rstrip("\n"))

    def burst(self, name: str, count: int) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(f"{name} {count}\n")
        self.process.stdin.flush()
        assert self.process.stdout.readline().strip() == "done"

    def wait_for_line(self, matches: Callable[[str], bool], timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.stderr):
                if matches(line):
                    return line
            time.sleep(0.05)
        raise AssertionError("no such line in the app's standard error:\n" + "\n".join(self.stderr))

    def finish(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        assert self.process.wait(timeout=60) == 0, "\n".join(self.stderr)
        self._reader.join(timeout=10)


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as receiver:
        yield receiver


def _dropped(line: str, items: str) -> int | None:
    """The running count of a drop line about `items`, or None for another line."""
    found = re.search(rf"Dropped (\d+) {items} so far", line)
    return int(found.group(1)) if found else None


def _slow_collector_and_tiny_queues(receiver: OtlpReceiver) -> dict[str, str]:
    receiver.latency = 0.2  # each export of two items takes this long
    return {
        "OTEL_BSP_MAX_QUEUE_SIZE": str(QUEUE_SIZE),
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "2",
        "OTEL_BSP_SCHEDULE_DELAY": "50",
        "OTEL_BLRP_MAX_QUEUE_SIZE": str(QUEUE_SIZE),
        "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE": "2",
        "OTEL_BLRP_SCHEDULE_DELAY": "50",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "5",  # slow, not failing
    }


def _wait_for_final_count(app: BurstApp, items: str, arrived: Callable[[], int]) -> list[int]:
    """The running counts of the drop lines, once the last one says how many never arrived (the queue drained).

    Within a few: the SDK warns when it finds its queue full, and its worker may take an item before the new one
    pushes the oldest out."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        expected = BURST - arrived()
        counts = [c for c in (_dropped(line, items) for line in app.stderr) if c is not None]
        if counts and abs(counts[-1] - expected) <= 3:
            return counts
        time.sleep(0.1)
    raise AssertionError(f"no final count of {BURST - arrived()} dropped {items}:\n" + "\n".join(app.stderr))


def test_a_span_burst_into_a_tiny_queue_is_reported_as_drops_and_a_later_export_failure_still_shows(
    receiver: OtlpReceiver,
) -> None:
    app = BurstApp(_slow_collector_and_tiny_queues(receiver), receiver)
    try:
        app.burst("spans", BURST)
        if SDK_COUNTS_DROPS:
            # the last count is what never arrived: reported although the burst ended between two lines
            counts = _wait_for_final_count(app, "spans", lambda: len(receiver.spans))
            assert counts[-1] > 0 and len(counts) <= 3, app.stderr  # rate-limited: not a line per span
        line = app.wait_for_line(lambda line: "spans" in line and "OTEL_BSP_MAX_QUEUE_SIZE" in line)
        assert f"the export queue (OTEL_BSP_MAX_QUEUE_SIZE={QUEUE_SIZE}) is full" in line, line
        assert "Raise OTEL_BSP_MAX_QUEUE_SIZE" in line
        assert not [line for line in app.stderr if "Could not export" in line], app.stderr

        # the collector now fails: that failure is reported, not hidden by the drops before it
        receiver.status, receiver.latency = 503, 0.0
        app.burst("spans", 1)
        failure = app.wait_for_line(lambda line: "Could not export traces" in line)
        assert f"{receiver.endpoint}/v1/traces" in failure
    finally:
        app.finish()


@pytest.mark.skipif(not SDK_COUNTS_DROPS, reason="SDK 1.27 drops log records without a word: nothing to report")
def test_a_log_burst_into_a_tiny_queue_is_reported_as_drops(receiver: OtlpReceiver) -> None:
    env = _slow_collector_and_tiny_queues(receiver)
    app = BurstApp({**env, "OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED": "true"}, receiver)
    try:
        app.burst("logs", BURST)
        counts = _wait_for_final_count(
            app, "log records", lambda: sum(str(log.body).startswith("record ") for log in receiver.logs)
        )
        assert counts[-1] > 0 and len(counts) <= 3, app.stderr
        line = app.wait_for_line(lambda line: "log records" in line and "OTEL_BLRP_MAX_QUEUE_SIZE" in line)
        assert f"the export queue (OTEL_BLRP_MAX_QUEUE_SIZE={QUEUE_SIZE}) is full" in line, line
        assert not [line for line in app.stderr if "Could not export" in line], app.stderr
    finally:
        app.finish()
