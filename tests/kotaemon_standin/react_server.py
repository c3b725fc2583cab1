"""The local OpenAI-compatible test server, plus a chat model that answers in the ReAct format.

Model `react-agent` asks for the `search` tool until the prompt holds an observation after the question, then
gives a final answer, so a real ReAct agent loop runs against the server. Every other model behaves as usual.
"""

from __future__ import annotations

from typing import Any

from tests.support.openai_server import OpenAIServer, _Handler, _message_text, count_tokens

REACT_MODEL = "react-agent"
REACT_ACTION = "Thought: I should look it up.\nAction: search\nAction Input: meaning of life"
REACT_FINAL = "Thought: I know the answer now.\nFinal Answer: 42"


class _ReactHandler(_Handler):
    def _chat(self, body: dict[str, Any], model: str, delay: float) -> None:
        if model != REACT_MODEL:
            super()._chat(body, model, delay)
            return
        prompt = "".join(_message_text(m.get("content")) for m in body.get("messages") or [])
        scratchpad = prompt.rpartition("Question:")[2]
        reply = REACT_FINAL if "Observation:" in scratchpad else REACT_ACTION
        prompt_tokens, reply_tokens = count_tokens(prompt), count_tokens(reply)
        self._json(
            {
                "id": "chatcmpl-react",
                "object": "chat.completion",
                "created": 0,
                "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": reply_tokens,
                    "total_tokens": prompt_tokens + reply_tokens,
                },
            }
        )


def react_server() -> OpenAIServer:
    """An unstarted server (use it as a context manager) that also serves the ReAct model."""
    server = OpenAIServer()
    server.RequestHandlerClass = _ReactHandler
    return server
