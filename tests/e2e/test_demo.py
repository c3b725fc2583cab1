"""`make demo`: what it shows on the local server (the Kotaemon question first, timing bars, one metrics table), and
its switch to the real OpenAI API, checked without network (the real calls are not run)."""

from __future__ import annotations

import os
import re
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
    assert "-m examples.demo --real\n" in result.stdout


def test_real_without_a_key_says_what_is_missing_and_fails() -> None:
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    result = subprocess.run(
        [sys.executable, "-m", "examples.demo", "--real"],
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
        run_instrumented("examples/openai_app.py", receiver=receiver, base_url=server.base_url, env=env)
        run_instrumented("examples/langchain_app.py", "fallback", receiver=receiver, base_url=server.base_url, env=env)
        names = sorted(span.name for span in receiver.spans)
    # the fallback's primary keeps its failing model; everything else takes the named ones
    assert "chat error-500" in names and "embeddings m-real-embedding" in names
    assert names.count("chat m-real-chat") == 6, names  # the tool call and its answer, a stream, two async, fallback
    assert not [name for name in names if name.startswith(("chat m-", "embeddings m-")) and "real" not in name]


def test_the_demo_shows_the_kotaemon_question_first_with_timing_bars_and_one_metrics_table() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "examples.demo"], cwd=REPO, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    sections = [line for line in lines if line.startswith("=== ")]
    assert [section.split()[1:3] for section in sections] == [
        ["a", "Kotaemon"],
        ["a", "LangChain"],
        ["an", "OpenAI"],
        ["a", "ktem-like"],
    ]
    web_app = lines[lines.index(sections[3]) :]
    assert any(line.split()[1:3] == ["gradio", "chat_fn"] for line in web_app if line.startswith("  ")), web_app
    first_trace = next(number for number, line in enumerate(lines) if line.startswith("trace "))
    assert lines[first_trace - 1] == "The question 'What is the answer to everything?' as one trace:"
    assert lines[first_trace + 1].split()[:2] == ["invoke_workflow", "RAGPipeline"]
    # every span line has its bar: 32 cells of time, the root's full
    span_lines = [line for line in lines if re.search(r" ms  (INTERNAL|CLIENT|SERVER) ", line)]
    bars = [re.search(r"  ([█·▏]{32}) ", line) for line in span_lines]
    assert len(span_lines) > 50 and all(bars), [line for line, bar in zip(span_lines, bars, strict=True) if not bar]
    assert lines[first_trace + 1].split()[2] == "█" * 32
    kotaemon = lines[: lines.index(sections[1])]
    table = [line for line in kotaemon[kotaemon.index("metrics") + 1 :] if line]
    header = "stage model or component calls errors p50 p95 tokens in tokens out docs"
    assert table[0].split() == header.split()
    rows = {tuple(line.split()[:2]): line.split()[2:] for line in table[1:] if not line.startswith("  counters")}
    assert (
        rows[("retrieval", "VectorRetrieval")][:2] == ["3", "-"] and rows[("retrieval", "VectorRetrieval")][-1] == "6"
    )
    assert rows[("chat", "kt-rerank")][0] == "9" and rows[("chat", "kt-answer")][-3:] == ["20", "9", "-"]
    assert {stage for stage, _ in rows} >= {"pipeline", "agent", "indexing", "retrieval", "rerank", "tool", "chat"}
    counters = [line for line in table if line.startswith("  counters")]
    assert len(table) == len(rows) + 1 + len(counters) and len(counters) <= 1  # header, a row per stage and name
    assert rows[("tool", "Search")][0] == "1"  # tool calls are counted by the tool duration's count
