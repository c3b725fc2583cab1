"""Run an app under `opentelemetry-instrument` in a subprocess, the way a user does, exporting to a receiver."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.otlp_receiver import OtlpReceiver

REPO = Path(__file__).resolve().parents[2]
APPS = REPO / "tests" / "apps"
FAKE_API_KEY = "sk-proj-e2eSECRETkey0123456789abcdef"


def instrumented_environment(endpoint: str, base_url: str, env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of an app under test: the caller's minus its OTEL_* and OPENAI_* variables, plus the
    endpoint, a service name, a long metric interval (one export, at exit) and `env`. Everything else comes
    from this package's distro defaults."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OPENAI_"))}
    clean.update(
        OTEL_SERVICE_NAME="e2e-app",
        OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        OTEL_METRIC_EXPORT_INTERVAL="600000",
        OTEL_BSP_SCHEDULE_DELAY="200",
        OPENAI_API_KEY=FAKE_API_KEY,
        OPENAI_BASE_URL=base_url,
    )
    clean.update(env or {})
    return clean


def launch(app: str, *args: str) -> list[str]:
    """The command line that runs `tests/apps/<app>` under `opentelemetry-instrument`."""
    return [str(Path(sys.executable).with_name("opentelemetry-instrument")), sys.executable, str(APPS / app), *args]


def run_instrumented(
    app: str, *args: str, receiver: OtlpReceiver, env: dict[str, str] | None = None, base_url: str = ""
) -> subprocess.CompletedProcess[str]:
    """Run `opentelemetry-instrument python tests/apps/<app> args...` to completion; it must succeed."""
    result = subprocess.run(
        launch(app, *args),
        env=instrumented_environment(receiver.endpoint, base_url, env),
        cwd=str(REPO),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"app failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result
