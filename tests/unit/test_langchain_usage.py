"""LangChain requests and usage: sampling settings, cache reads and cache writes (providers that report cache
creation) beside the token counts."""

from __future__ import annotations

from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, LLMResult

from opentelemetry_instrumentation_kotaemon.core.spans import ModelCall
from opentelemetry_instrumentation_kotaemon.langchain.extract import model_call, read_llm_result


def test_cache_read_and_write_tokens() -> None:
    usage = {
        "input_tokens": 120,
        "output_tokens": 7,
        "total_tokens": 127,
        "input_token_details": {"cache_read": 100, "cache_creation": 20},
    }
    message = AIMessage(content="hi", usage_metadata=usage)
    call = ModelCall(operation="chat", provider="anthropic")
    read_llm_result(call, LLMResult(generations=[[ChatGeneration(message=message)]]), False)
    assert (call.input_tokens, call.output_tokens) == (120, 7)
    assert (call.cache_read_input_tokens, call.cache_write_input_tokens) == (100, 20)
    attributes = call.end_attributes(failed=False)
    assert attributes["gen_ai.usage.cache_read.input_tokens"] == 100
    assert attributes["gen_ai.usage.cache_write.input_tokens"] == 20  # the conventions' name (was cache_creation)
    assert "gen_ai.usage.cache_creation.input_tokens" not in attributes


def test_top_k_of_models_that_take_it() -> None:
    kwargs = {"metadata": {"ls_provider": "anthropic"}, "invocation_params": {"model": "claude", "top_k": 40}}
    call = model_call("chat", None, kwargs, streaming=False)
    assert call.request_attributes()["gen_ai.request.top_k"] == 40
