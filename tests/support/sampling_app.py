"""tests/apps/sampling_app.py under `opentelemetry-instrument` with a sampler of ours, its windows read as they come."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import tempfile
import threading
from typing import Any

from tests.support.e2e import instrumented_environment, launch

TRACES_ONLY = {"OTEL_METRICS_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none"}


class SamplingApp:
    """Starts root spans at `rates` (name: per second) for `seconds`, exporting to `otlp_http`, sampled by `sampler`
    (`jaeger_remote` by default) with `arg`. Each window (`window` seconds) reads {"end": unix time, "counts":
    {name: [started, sampled, kept by the lower bound]}}."""

    def __init__(
        self,
        otlp_http: str,
        service: str,
        seconds: float,
        rates: dict[str, float],
        arg: str,
        window: float = 0.5,
        sampler: str = "jaeger_remote",
    ) -> None:
        env = instrumented_environment(
            otlp_http,
            "",
            {
                **TRACES_ONLY,
                "OTEL_SERVICE_NAME": service,
                "OTEL_TRACES_SAMPLER": sampler,
                "OTEL_TRACES_SAMPLER_ARG": arg,
            },
        )
        self.window = window
        args = [str(seconds), str(window), *(f"{name}={rate}" for name, rate in rates.items())]
        self.stderr_file = tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed by finish()
        self.process = subprocess.Popen(
            launch("sampling_app.py", *args), env=env, stdout=subprocess.PIPE, stderr=self.stderr_file, text=True
        )
        self.windows: queue.Queue[dict[str, Any]] = queue.Queue()
        self.other_output: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        decoder = json.JSONDecoder()
        for line in self.process.stdout:
            text = line.strip()
            while text:  # normally one window per line
                try:
                    window, end = decoder.raw_decode(text)
                except ValueError:
                    self.other_output.append(text)
                    break
                self.windows.put(window)
                text = text[end:].strip()

    def next_window(self) -> dict[str, Any]:
        try:
            return self.windows.get(timeout=30)
        except queue.Empty:
            raise AssertionError(f"the app reported nothing for 30 s:\n{self.finish()}") from None

    def windows_so_far(self) -> list[dict[str, Any]]:
        """Every window reported since the last call (without waiting)."""
        found = []
        while True:
            try:
                found.append(self.windows.get_nowait())
            except queue.Empty:
                return found

    def share_until(self, name: str, low: float, high: float, deadline: float) -> float:
        """Read windows until `name`'s sampled share of the last two falls within [low, high]; returns when."""
        recent: list[list[int]] = []
        while True:
            window = self.next_window()
            recent = [*recent[-1:], window["counts"][name]]
            started, sampled = sum(c[0] for c in recent), sum(c[1] for c in recent)
            share = sampled / started if started else 0.0
            if len(recent) == 2 and low <= share <= high:
                return float(window["end"])
            assert window["end"] < deadline and not window.get("last"), (
                f"{name}: share {share:.3f} not within [{low}, {high}] by the deadline"
            )

    def stderr_so_far(self) -> str:
        """What the app wrote to stderr until now (read without moving the offset the app writes at)."""
        return os.pread(self.stderr_file.fileno(), 1 << 20, 0).decode(errors="replace")

    def finish(self, kill: bool = False) -> str:
        """Wait for the app to end (killing it after a minute, or at once with `kill`); its stderr."""
        try:
            if not kill:
                self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pass
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
        self.reader.join(timeout=10)
        self.stderr_file.seek(0)
        stderr = self.stderr_file.read()
        self.stderr_file.close()
        return stderr + "".join(f"\nstdout: {line}" for line in self.other_output)
