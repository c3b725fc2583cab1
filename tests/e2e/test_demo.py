"""`make demo`'s switch to the real OpenAI API: what can be checked without network (the real calls are not run)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.support.e2e import REPO, instrumented_environment, run_instrumented
from tests.support.openai_server import OpenAIServer
from tests.support.otlp_receiver import OtlpReceiver


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as server:
        yield server


def test_make_passes_demo_args_to_the_demo() -> None:
    result = subprocess.run(
        ["make", "-n", "demo", "DEMO_ARGS=--real"], cwd=REPO, capture_output=True, text=True, timeout=60, check=True
    )
    assert "-m tests.support.demo --real\n" in result.stdout


def test_real_without_a_key_says_what_is_missing_and_fails() -> None:
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    result = subprocess.run(
        [sys.executable, "-m", "tests.support.demo", "--real"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "needs OPENAI_API_KEY, which is not set: nothing ran" in result.stderr
    assert "===" not in result.stdout  # no example was started


def test_real_runs_leave_the_base_url_to_the_client() -> None:
    environment = instrumented_environment("http://127.0.0.1:4318", "", {"OPENAI_API_KEY": "sk-real"})
    assert "OPENAI_BASE_URL" not in environment and environment["OPENAI_API_KEY"] == "sk-real"


def test_apps_use_the_models_the_real_run_names(server: OpenAIServer) -> None:
    """What `--real` sets for the apps, played against the local server under other model names."""
    env = {"APP_CHAT_MODEL": "m-real-chat", "APP_EMBEDDING_MODEL": "m-real-embedding"}
    with OtlpReceiver() as receiver:
        run_instrumented("openai_app.py", "sync", "embeddings", receiver=receiver, base_url=server.base_url, env=env)
        run_instrumented("langchain_app.py", "fallback", receiver=receiver, base_url=server.base_url, env=env)
        names = sorted(span.name for span in receiver.spans)
    # the fallback's primary keeps its failing model; everything else takes the named ones
    assert "chat error-500" in names and "embeddings m-real-embedding" in names
    assert names.count("chat m-real-chat") == 2, names
    assert not [name for name in names if name.startswith(("chat m-", "embeddings m-")) and "real" not in name]
