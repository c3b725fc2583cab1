"""End to end: an unchanged OpenAI app under `opentelemetry-instrument` writes its telemetry to a local file through the
`kotaemon_file` exporters, and `opentelemetry-kotaemon view` shows it; bad values of OTEL_KOTAEMON_FILE_PATH."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from opentelemetry_instrumentation_kotaemon.settings import DEFAULT_FILE_PATH, OTEL_KOTAEMON_FILE_PATH
from tests.support.e2e import run_instrumented
from tests.support.openai_server import ASK_STREAM_USAGE, REPLY, OpenAIServer, count_tokens
from tests.support.otlp_receiver import OtlpReceiver

PROMPT = "What is the answer?"  # what tests/apps/openai_app.py asks
EMBEDDED = ("first text", "second")  # what it embeds
TO_FILE = {f"OTEL_{signal}_EXPORTER": "kotaemon_file" for signal in ("TRACES", "METRICS", "LOGS")}


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as server:
        yield server


def _run(server: OpenAIServer, cwd: Path, env: dict[str, str], *scenarios: str) -> subprocess.CompletedProcess[str]:
    """openai_app's scenarios under `opentelemetry-instrument`, run in `cwd`, with every signal going to the file;
    nothing may reach the OTLP endpoint."""
    with OtlpReceiver() as receiver:
        result = run_instrumented(
            "openai_app.py", *scenarios, receiver=receiver, base_url=server.base_url, env={**TO_FILE, **env}, cwd=cwd
        )
        assert (receiver.spans, receiver.points, receiver.logs) == ([], [], [])
    assert "Traceback" not in result.stderr, result.stderr
    return result


def test_the_viewer_shows_what_the_app_wrote(server: OpenAIServer, tmp_path: Path) -> None:
    path = tmp_path / "telemetry.jsonl"
    env = {
        **ASK_STREAM_USAGE,  # the viewer shows a stream's tokens
        OTEL_KOTAEMON_FILE_PATH: str(path),
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "event_only",  # the events go to the logs signal
    }
    result = _run(server, tmp_path, env, "sync", "stream_full", "stream_abandoned", "embeddings")
    assert OTEL_KOTAEMON_FILE_PATH not in result.stderr  # no warning

    viewer = subprocess.run(
        [str(Path(sys.executable).with_name("opentelemetry-kotaemon")), "view", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert viewer.returncode == 0 and "skipped" not in viewer.stderr, viewer.stderr
    lines = viewer.stdout.splitlines()
    prompt, reply = count_tokens(PROMPT), count_tokens(REPLY)

    def line(start: str, middle: str, end: str) -> None:
        found = [text for text in lines if text.startswith(start) and middle in text and text.endswith(end)]
        assert len(found) == 1, (start, middle, end, viewer.stdout)

    bar = "  " + "█" * 32 + " "  # each call is a trace of its own, and its span the whole of it
    line("  chat m-sync" + bar, " ms  CLIENT   ok     ", f"model=m-sync in={prompt} out={reply}")
    line("  chat m-stream-full" + bar, " ms  CLIENT   ok     ", f"model=m-stream-full in={prompt} out={reply}")
    line("  chat m-stream-abandoned" + bar, " ms  CLIENT   ok     ", "chunks=1 abandoned=True")
    line("  embeddings m-embed" + bar, " ms  CLIENT   ok     ", f"model=m-embed in={sum(map(count_tokens, EMBEDDED))}")
    assert sum(text.startswith("trace ") and "  service=e2e-app  " in text for text in lines) == 4
    rows = {tuple(text.split()[:2]): text.split()[2:] for text in lines[lines.index("metrics") + 2 :]}
    # calls, errors, p50, p95 (a number and "ms"), tokens in, tokens out, documents
    assert rows[("chat", "m-sync")][:2] == ["1", "-"] and rows[("chat", "m-sync")][-3:] == [
        str(prompt),
        str(reply),
        "-",
    ]
    assert rows[("chat", "m-stream-abandoned")][:2] == ["1", "-"]
    assert rows[("embeddings", "m-embed")][-3:] == [str(sum(map(count_tokens, EMBEDDED))), "-", "-"]
    first_chunks = [text.split()[2:4] for text in lines if text.startswith("  first chunk ")]
    assert sorted(first_chunks) == [["m-stream-abandoned", "1"], ["m-stream-full", "1"]]
    assert "  counters: kotaemon.streams.abandoned=1" in lines
    assert "logs: 4 record(s)" in lines
    assert sum("gen_ai.client.inference.operation.details" in text for text in lines) == 4


def test_a_directory_falls_back_to_the_default_file_with_one_warning(server: OpenAIServer, tmp_path: Path) -> None:
    result = _run(server, tmp_path, {OTEL_KOTAEMON_FILE_PATH: str(tmp_path)})
    warnings = [line for line in result.stderr.splitlines() if OTEL_KOTAEMON_FILE_PATH in line]
    assert len(warnings) == 1, result.stderr
    assert repr(str(tmp_path)) in warnings[0] and f"using {DEFAULT_FILE_PATH} instead" in warnings[0]
    assert '"name":"chat m-sync"' in (tmp_path / DEFAULT_FILE_PATH).read_text()


def test_a_file_that_cannot_be_created_warns_once_and_the_app_runs(server: OpenAIServer, tmp_path: Path) -> None:
    target = tmp_path / "missing-directory" / "telemetry.jsonl"
    result = _run(server, tmp_path, {OTEL_KOTAEMON_FILE_PATH: str(target)})
    assert "app done" in result.stdout
    warnings = [line for line in result.stderr.splitlines() if OTEL_KOTAEMON_FILE_PATH in line]
    assert len(warnings) == 1, result.stderr
    assert f"cannot write telemetry to {target}" in warnings[0]
    assert not target.parent.exists() and not (tmp_path / DEFAULT_FILE_PATH).exists()
