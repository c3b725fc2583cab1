"""Importing, configuring and instrumenting open no connection but the app's own and the configured exporter's."""

from __future__ import annotations

import json
import subprocess
import sys
from urllib.parse import urlparse

from tests.kotaemon_standin import environment
from tests.support.e2e import APPS, REPO, instrumented_environment
from tests.support.openai_server import OpenAIServer
from tests.support.otlp_receiver import OtlpReceiver


def test_only_the_app_server_and_the_exporter_are_contacted() -> None:
    with OpenAIServer() as server, OtlpReceiver() as receiver:
        # what `opentelemetry-instrument` sets through this package before it starts the app
        launcher = {"OTEL_PYTHON_DISTRO": "kotaemon", "OTEL_PYTHON_CONFIGURATOR": "kotaemon"}
        env = instrumented_environment(receiver.endpoint, server.base_url, {**environment(), **launcher})
        result = subprocess.run(
            [sys.executable, str(APPS / "audited_app.py"), server.base_url],
            env=env,
            cwd=str(REPO),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        spans = {s.name for s in receiver.spans}
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines() if line.startswith(("STARTUP ", "EXIT ")))
    assert json.loads(lines["STARTUP"]) == []  # no lookup, no connection while starting up and instrumenting
    allowed = {urlparse(server.base_url).port, urlparse(receiver.endpoint).port}
    contacted = json.loads(lines["EXIT"])
    assert any(str(urlparse(receiver.endpoint).port) in address for _, address in contacted)  # the exporter's
    for kind, address in contacted:
        host, _, port = address.strip("()").replace("'", "").replace(" ", "").rpartition(",")
        if kind == "resolve":
            host, _, port = address.rpartition(":")
        assert host in ("127.0.0.1", "localhost") and int(port) in allowed, (kind, address)
    assert {"chat a-openai", "chat a-langchain", "chat a-kotaemon"} <= spans  # instrumentation was on
