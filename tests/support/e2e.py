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


def run_instrumented(
    app: str, *args: str, receiver: OtlpReceiver, env: dict[str, str] | None = None, base_url: str = ""
) -> subprocess.CompletedProcess[str]:
    """Run `opentelemetry-instrument python tests/apps/<app> args...`; OTEL_* variables of the caller are dropped.

    Only the endpoint, service name and a long metric interval (one export, at exit) are set: everything else
    comes from this package's distro defaults unless `env` says otherwise.
    """
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OPENAI_"))}
    clean.update(
        OTEL_SERVICE_NAME="e2e-app",
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
        OTEL_METRIC_EXPORT_INTERVAL="600000",
        OTEL_BSP_SCHEDULE_DELAY="200",
        OPENAI_API_KEY=FAKE_API_KEY,
        OPENAI_BASE_URL=base_url,
    )
    clean.update(env or {})
    launcher = Path(sys.executable).with_name("opentelemetry-instrument")
    result = subprocess.run(
        [str(launcher), sys.executable, str(APPS / app), *args],
        env=clean,
        cwd=str(REPO),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"app failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result
