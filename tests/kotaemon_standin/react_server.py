"""The local OpenAI-compatible test server, plus chat models that answer as Kotaemon's agents and scorers expect.

Model `react-agent` asks for the `search` tool until the prompt holds an observation after the question, then
gives a final answer, so a real ReAct agent loop runs against the server. Model `relevance-rater` answers a
relevance prompt (`QUESTION: ... CONTEXT: ... RELEVANCE:`, as `LLMTrulensScoring` asks) with a rating from 0 to 10:
how many words of the question the context has. Every other model behaves as usual.
"""

from __future__ import annotations

from typing import Any

from tests.support.openai_server import OpenAIServer, _Handler, _message_text, count_tokens

REACT_MODEL = "react-agent"
REACT_ACTION = "Thought: I should look it up.\nAction: search\nAction Input: meaning of life"
REACT_FINAL = "Thought: I know the answer now.\nFinal Answer: 42"
RATING_MODEL = "relevance-rater"


def rating(prompt: str) -> str:
    """How many words of the prompt's question are in its context, at most 10."""
    question, _, context = prompt.rpartition("QUESTION:")[2].partition("CONTEXT:")
    words = {word.strip(".,?!").lower() for word in question.split()}
    found = {word.strip(".,?!").lower() for word in context.partition("RELEVANCE:")[0].split()}
    return str(min(10, len(words & found)))


class _ReactHandler(_Handler):
    def _chat(self, body: dict[str, Any], model: str, delay: float) -> None:
        if model not in (REACT_MODEL, RATING_MODEL):
            super()._chat(body, model, delay)
            return
        prompt = "".join(_message_text(m.get("content")) for m in body.get("messages") or [])
        if model == RATING_MODEL:
            reply = rating(prompt)
        else:
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
