"""An explicit 0 in a request (top_k=0, max_tokens=0, temperature=0, zero tokens used) is recorded as 0, not read as
a value left unset."""

from __future__ import annotations

from collections.abc import Callable

from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, LLMResult

from opentelemetry_instrumentation_kotaemon.langchain import extract as langchain
from tests.conftest import Captured
from tests.kotaemon_standin import use

use()
from kotaemon.agents import AgentOutput, BaseAgent  # noqa: E402
from kotaemon.base import RetrievedDocument  # noqa: E402
from kotaemon.indices import BaseRetrieval  # noqa: E402


class FivePerQuery(BaseRetrieval):
    top_k: int = 5

    def run(self, text: str, top_k: int | None = None) -> list[RetrievedDocument]:
        return []


class TenSteps(BaseAgent):
    max_iterations: int = 10

    def run(self, instruction: str, max_iterations: int | None = None) -> AgentOutput:
        return AgentOutput(text="done", agent_type=None, status="finished")


def test_kotaemon_zero_top_k_and_iterations_are_recorded(instrument: Callable[..., Captured]) -> None:
    captured = instrument()
    FivePerQuery()(text="q", top_k=0)
    FivePerQuery()(text="q")
    TenSteps()(instruction="go", max_iterations=0)
    zero, default, agent = sorted(captured.spans(), key=lambda s: s.start_time or 0)
    assert zero.attributes is not None and default.attributes is not None and agent.attributes is not None
    assert zero.attributes["gen_ai.retrieval.top_k"] == 0
    assert default.attributes["gen_ai.retrieval.top_k"] == 5
    assert agent.attributes["kotaemon.agent.max_iterations"] == 0


def test_langchain_zero_parameters_and_usage_are_recorded() -> None:
    kwargs = {"metadata": {"ls_max_tokens": 0}, "invocation_params": {"max_tokens": 0, "temperature": 0}}
    call = langchain.model_call("chat", None, kwargs, streaming=False)
    assert call.max_tokens == 0
    assert call.temperature == 0
    generation = ChatGeneration(message=AIMessage(content=""))
    usage = {"token_usage": {"prompt_tokens": 0, "completion_tokens": 0}}
    langchain.read_llm_result(call, LLMResult(generations=[[generation]], llm_output=usage), capture=False)
    assert (call.input_tokens, call.output_tokens) == (0, 0)
