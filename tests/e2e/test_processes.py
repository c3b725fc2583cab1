"""Apps that work in child processes keep exporting from them (see docs/operations.md: Processes and threads)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.e2e import run_instrumented
from tests.support.openai_server import OpenAIServer
from tests.support.otlp_receiver import OtlpReceiver


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as server:
        yield server


@pytest.mark.parametrize("flush", ["0", "1"])
def test_forked_and_spawned_children_export(server: OpenAIServer, flush: str) -> None:
    with OtlpReceiver() as receiver:
        run_instrumented("fork_app.py", receiver=receiver, base_url=server.base_url, env={"FLUSH_IN_WORKERS": flush})
        models = sorted(s.attributes["gen_ai.request.model"] for s in receiver.spans)
    expected = ["m-forked", "m-mp-spawn", "m-parent"]
    if flush == "1":
        expected = sorted([*expected, "m-mp-fork"])
    assert models == expected  # without a flush, the fork-started worker's span is lost (os._exit)
