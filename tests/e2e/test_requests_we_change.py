"""End to end, Kotaemon's default Azure setup: an unchanged app streaming through `AzureOpenAI` and `AsyncAzureOpenAI`
under `opentelemetry-instrument`, against a strict server that refuses `stream_options` before API version
2024-09-01, as Azure OpenAI does. The app's output is the same as bare; the spans say nothing about tokens where we
could not ask for them, and carry them where the server took the question."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.support.e2e import REPO, app_path, instrumented_environment, run_instrumented
from tests.support.openai_server import REPLY, OpenAIServer, count_tokens
from tests.support.otlp_receiver import OtlpReceiver

OLD, NEW = "2024-02-15-preview", "2024-10-21"  # Kotaemon's .env.example; a version that takes stream_options
APP = "azure_stream_app.py"


@pytest.fixture(scope="module")
def strict() -> Iterator[OpenAIServer]:
    with OpenAIServer(strict=True) as server:
        yield server


@pytest.fixture(scope="module")
def runs(strict: OpenAIServer) -> Iterator[tuple[str, str, OtlpReceiver]]:
    """The app bare, then under `opentelemetry-instrument` with default settings: both outputs, and the telemetry."""
    environment = instrumented_environment("http://127.0.0.1:9", "")  # the bare run exports nothing
    bare = subprocess.run(
        [sys.executable, str(app_path(APP)), strict.url, OLD, NEW],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    with OtlpReceiver() as receiver:
        traced = run_instrumented(APP, strict.url, OLD, NEW, receiver=receiver)
        yield bare.stdout, traced.stdout, receiver


def test_the_app_gets_the_same_answers_as_bare(runs: tuple[str, str, OtlpReceiver]) -> None:
    bare, traced, _ = runs
    assert traced == bare
    assert bare.splitlines() == [f"{version} {mode}: {REPLY}" for version in (OLD, NEW) for mode in ("sync", "async")]


@pytest.mark.parametrize("version", [OLD, NEW])
def test_only_versions_that_take_it_are_asked_and_only_their_spans_carry_tokens(
    strict: OpenAIServer, runs: tuple[str, str, OtlpReceiver], version: str
) -> None:
    _, _, receiver = runs
    asked = {"include_usage": True} if version == NEW else None
    for mode in ("sync", "async"):
        deployment = f"az-{version}-{mode}"
        bodies = [body for path, body, _ in strict.requests if f"/deployments/{deployment}/" in path]
        assert [body.get("stream_options") for body in bodies] == [None, asked]  # bare, then instrumented
        (span,) = [s for s in receiver.spans if s.name == f"chat {deployment}"]
        assert span.status_code == 0 and span.attributes["gen_ai.provider.name"] == "azure.ai.openai"
        tokens = {key: value for key, value in span.attributes.items() if key.startswith("gen_ai.usage.")}
        if asked:
            assert tokens["gen_ai.usage.output_tokens"] == count_tokens(REPLY)
        else:
            assert tokens == {}  # no usage came: nothing is said about tokens, nothing estimated


def test_no_header_of_ours_reaches_the_model_server(strict: OpenAIServer, runs: tuple[str, str, OtlpReceiver]) -> None:
    for mode in ("sync", "async"):
        deployment = f"az-{OLD}-{mode}"
        bare, traced = [headers for path, _, headers in strict.requests if f"/deployments/{deployment}/" in path]
        assert {k.lower() for k in traced} == {k.lower() for k in bare}
        assert not {"traceparent", "tracestate", "baggage"} & {k.lower() for k in traced}
