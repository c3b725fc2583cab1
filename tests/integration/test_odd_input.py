"""Odd input and odd answers: the app gets exactly what it gets without us, and attributes stay within the cap."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import openai
import pytest

from tests.conftest import Captured
from tests.support.openai_server import OpenAIServer

Instrument = Callable[..., Captured]
CAP = 256

ODD_MESSAGES: dict[str, Any] = {
    "parts": [
        {
            "role": "user",
            "content": [{"type": "text", "text": "a"}, {"type": "image_url", "image_url": {"url": "data:,x"}}],
        }
    ],
    "none_content": [{"role": "assistant", "content": None}, {"role": "user", "content": "hi"}],
    "surrogates": [{"role": "user", "content": "bad \ud800 half \udfff pair"}],
    "nul_bytes": [{"role": "user", "content": "nul\x00inside"}],
    "huge": [{"role": "user", "content": "word " * 200_000}],
    "tool_args_not_json": [
        {"role": "user", "content": "hi"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{not json"}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "{'a': 1}"},
    ],
    "empty": [],
}


def _outcome(call: Callable[[], Any]) -> Any:
    try:
        result = call()
        if isinstance(result, openai.Stream):
            return [chunk.model_dump() for chunk in result]
        return result.model_dump()
    except Exception as error:  # the same exception, with the same message, is what the app must see
        return (type(error), str(error))


@pytest.mark.parametrize("case", sorted(ODD_MESSAGES))
@pytest.mark.parametrize("stream", [False, True])
def test_odd_messages(case: str, stream: bool, instrument: Instrument, openai_server: OpenAIServer) -> None:
    client = openai.OpenAI(base_url=openai_server.base_url, api_key="k", max_retries=0)

    def call() -> Any:
        return client.chat.completions.create(model="gpt-odd", messages=ODD_MESSAGES[case], stream=stream)

    plain = _outcome(call)
    captured = instrument(
        OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="span_and_event",
        OTEL_KOTAEMON_CONTENT_MAX_LENGTH=str(CAP),
    )
    assert _outcome(call) == plain
    for span in captured.spans():
        for key, value in span.attributes.items():
            if isinstance(value, str):
                assert len(value) <= CAP + len("...[truncated 9999999 chars]"), key


@pytest.mark.parametrize("model", ["no-usage", "error-500", "broken-stream", "odd-shape"])
def test_odd_answers(model: str, instrument: Instrument, openai_server: OpenAIServer) -> None:
    client = openai.OpenAI(base_url=openai_server.base_url, api_key="k", max_retries=0)

    def call() -> Any:
        return client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}], stream=False)

    def streamed() -> Any:
        return client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}], stream=True)

    plain = (_outcome(call), _outcome(streamed))
    captured = instrument()
    assert (_outcome(call), _outcome(streamed)) == plain
    assert len(captured.spans()) == 2
