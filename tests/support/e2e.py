"""Run an app under `opentelemetry-instrument` in a subprocess, the way a user does, exporting to a receiver."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.support.otlp_receiver import OtlpReceiver

REPO = Path(__file__).resolve().parents[2]
APPS = REPO / "tests" / "apps"
EXAMPLES = REPO / "examples"
FAKE_API_KEY = "sk-proj-e2eSECRETkey0123456789abcdef"


def instrumented_environment(endpoint: str, base_url: str, env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of an app under test: the caller's minus its OTEL_*, OPENAI_* and APP_* variables, plus the
    endpoint, a service name, a long metric interval (one export, at exit), the OpenAI server's URL (when there is
    one) and `env`. Everything else comes from this package's distro defaults."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OPENAI_", "APP_"))}
    clean.update(
        OTEL_SERVICE_NAME="e2e-app",
        OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        OTEL_METRIC_EXPORT_INTERVAL="600000",
        OTEL_BSP_SCHEDULE_DELAY="200",
        OPENAI_API_KEY=FAKE_API_KEY,
    )
    if base_url:
        clean["OPENAI_BASE_URL"] = base_url
    clean.update(env or {})
    return clean


def app_path(app: str) -> Path:
    """A test app by its name in `tests/apps/`, or any app by its path from the repository root
    (`examples/langchain_app.py`)."""
    return REPO / app if "/" in app else APPS / app


def launch(app: str, *args: str) -> list[str]:
    """The command line that runs `app` (see `app_path`) under `opentelemetry-instrument`."""
    return [str(Path(sys.executable).with_name("opentelemetry-instrument")), sys.executable, str(app_path(app)), *args]


def run_instrumented(
    app: str,
    *args: str,
    receiver: OtlpReceiver,
    env: dict[str, str] | None = None,
    base_url: str = "",
    cwd: Path = REPO,
) -> subprocess.CompletedProcess[str]:
    """Run `opentelemetry-instrument python <app> args...` (see `app_path`) to completion; it must succeed.

    An app still running after two minutes is stopped with SIGABRT, so that Python prints where each of its threads
    was (faulthandler), and the test fails with that output.
    """
    command = launch(app, *args)
    environment = {**instrumented_environment(receiver.endpoint, base_url, env), "PYTHONFAULTHANDLER": "1"}
    with subprocess.Popen(
        command, env=environment, cwd=str(cwd), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGABRT)
            stdout, stderr = process.communicate()
            raise AssertionError(f"{app} hung; where its threads were:\n{stdout}\n{stderr}") from None
    result = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
    assert result.returncode == 0, f"app failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result
