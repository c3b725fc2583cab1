"""Turning LangChain callback arguments into typed span records (`core.spans`) and reading run results.

Nothing here touches spans or LangChain internals beyond the public callback payloads (`serialized`, `metadata`,
`invocation_params`, `LLMResult`, `Document`), which look the same in langchain-core 0.2 and 1.x. Payloads are read
defensively: custom models, tools and callbacks pass whatever shapes they like.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import attributes as attr
from ..core.content import text_part
from ..core.spans import AgentStep, ModelCall, OutputMessage, RetrievalStep, ToolCall, ToolStep, WorkflowStep
from ..core.values import MESSAGE_ROLES, first_number, first_whole_number, items, mapping, number, whole_number

# LangChain's `ls_provider` values that differ from the GenAI `gen_ai.provider.name` values.
_PROVIDERS = {
    "azure": "azure.ai.openai",
    "azure_openai": "azure.ai.openai",
    "google_vertexai": "gcp.vertex_ai",
    "google_genai": "gcp.gen_ai",
    "bedrock": "aws.bedrock",
    "amazon_bedrock": "aws.bedrock",
    "mistralai": "mistral_ai",
}


def run_name(serialized: Mapping[str, Any] | None, kwargs: Mapping[str, Any], default: str) -> str:
    """The run's name: the explicit run name, else the serialized class or name, else `default`."""
    name = kwargs.get("name")
    if isinstance(name, str) and name:
        return name
    if isinstance(serialized, Mapping):
        ids = serialized.get("id")
        if isinstance(ids, list) and ids:
            return str(ids[-1])
        if isinstance(serialized.get("name"), str):
            return str(serialized["name"])
    return default


def _class_path(serialized: Mapping[str, Any] | None) -> str:
    if isinstance(serialized, Mapping) and isinstance(serialized.get("id"), list):
        return ".".join(str(part) for part in serialized["id"])
    return ""


def is_prompt(runnable: Any, serialized: Mapping[str, Any] | None, name: str) -> bool:
    """A prompt template run (its name and version go on the next model span)."""
    if runnable is not None:
        return any(cls.__name__ == "BasePromptTemplate" for cls in type(runnable).__mro__)
    return ".prompts." in _class_path(serialized) or name.endswith("PromptTemplate")


def is_parser(runnable: Any, serialized: Mapping[str, Any] | None, name: str) -> bool:
    """An output parser run (never the root workflow)."""
    if runnable is not None:
        return any(cls.__name__ == "BaseOutputParser" for cls in type(runnable).__mro__)
    return name.endswith("Parser") or ".output_parsers." in _class_path(serialized)


ChainDecision = tuple[bool, bool, "str | None"]
"""What a chain run is: a prompt template, an output parser, and its wrapper or agent kind (`runnable_kind`)."""


def chain_decision(runnable: Any, serialized: Mapping[str, Any] | None, name: str) -> ChainDecision:
    """`is_prompt`, `is_parser` and `runnable_kind` of a chain run at once."""
    return is_prompt(runnable, serialized, name), is_parser(runnable, serialized, name), runnable_kind(runnable, name)


def runnable_kind(runnable: Any, name: str) -> str | None:
    """`fallbacks`, `retry` or `agent` for the wrappers and agents that get their own span, else None."""
    class_name = type(runnable).__name__ if runnable is not None else name
    if class_name == "RunnableWithFallbacks" or name == "RunnableWithFallbacks":
        return "fallbacks"
    if class_name == "RunnableRetry":
        return "retry"
    if name.lower().endswith(("agent", "agentexecutor")) or class_name.endswith("AgentExecutor"):
        return "agent"
    return None


def chain_step(name: str, kind: str | None, root: bool) -> AgentStep | WorkflowStep:
    """The step of a chain run that gets a span: an agent, the root workflow, or a wrapper (fallbacks, retry) or any
    runnable inside it."""
    if kind == "agent":
        return AgentStep(name=name, component=name, agent_name=name)
    if root:
        return WorkflowStep(name=name, component=name, workflow_name=name)
    return WorkflowStep(name=name, component=name, nested=True)


CONVERSATION_KEYS = ("thread_id", "session_id", "conversation_id")
"""Run metadata naming the conversation (LangGraph's thread, a message history's session), first found wins."""


USER_KEYS = ("user_id",)
"""Run metadata naming the app's user."""


def conversation_id(metadata: Mapping[str, Any] | None) -> str | None:
    """The conversation a root run belongs to, from its metadata."""
    return _identifier(metadata, CONVERSATION_KEYS)


def user_id(metadata: Mapping[str, Any] | None) -> str | None:
    """The user a root run answers, from its metadata (exported hashed unless configured otherwise)."""
    return _identifier(metadata, USER_KEYS)


def _identifier(metadata: Mapping[str, Any] | None, keys: tuple[str, ...]) -> str | None:
    metadata = mapping(metadata)
    for key in keys:
        value = metadata.get(key)
        if isinstance(value, (str, int)) and not isinstance(value, bool) and value != "":
            return str(value)
    return None


def prompt_identity(name: str, metadata: Mapping[str, Any] | None) -> tuple[str | None, str | None]:
    """A prompt template's name and version: LangChain Hub metadata, `prompt_*` metadata, or a custom run name."""
    metadata = mapping(metadata)
    prompt = metadata.get("lc_hub_repo") or metadata.get("prompt_name")
    if prompt is None and not name.endswith("PromptTemplate"):
        prompt = name
    version = metadata.get("lc_hub_commit_hash") or metadata.get("prompt_version")
    return (str(prompt) if prompt else None), (str(version) if version else None)


def _stop(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)) and value:
        return [str(item) for item in value]
    return None


def model_call(
    operation: str,
    serialized: Mapping[str, Any] | None,
    kwargs: Mapping[str, Any],
    streaming: bool,
) -> ModelCall:
    """A model run's request, from LangChain's `ls_*` metadata (0.2+) and `invocation_params` (every version)."""
    metadata = mapping(kwargs.get("metadata"))
    params = mapping(kwargs.get("invocation_params"))
    provider = str(metadata.get("ls_provider") or params.get("_type") or "langchain")
    provider = _PROVIDERS.get(provider, provider.split("-")[0])
    model = metadata.get("ls_model_name") or params.get("model") or params.get("model_name")
    call = ModelCall(
        operation=operation,
        provider=provider,
        request_model=str(model) if model else None,
        component=run_name(serialized, kwargs, "model"),
        streaming=streaming or params.get("stream") is True or params.get("streaming") is True,
    )
    call.temperature = first_number(metadata.get("ls_temperature"), params.get("temperature"))
    call.max_tokens = first_whole_number(
        metadata.get("ls_max_tokens"), params.get("max_tokens"), params.get("max_completion_tokens")
    )
    call.stop_sequences = _stop(metadata.get("ls_stop") or params.get("stop"))
    call.top_p = number(params.get("top_p"))
    call.top_k = number(params.get("top_k"))
    call.seed = whole_number(params.get("seed"))
    call.frequency_penalty = number(params.get("frequency_penalty"))
    call.presence_penalty = number(params.get("presence_penalty"))
    choices = whole_number(params.get("n"))
    call.choice_count = choices if choices and choices != 1 else None
    return call


def _message_parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [text_part(content)]
    parts: list[dict[str, Any]] = []
    for part in content if isinstance(content, list) else ():
        if isinstance(part, str):
            parts.append(text_part(part))
        elif isinstance(part, dict) and part.get("type") == "text":
            parts.append(text_part(part.get("text")))
        elif isinstance(part, dict):
            parts.append({"type": str(part.get("type", "unknown"))})
    return parts


def input_messages(message_lists: Any) -> list[dict[str, Any]]:
    """GenAI input messages from the first prompt of a chat model run (LangChain `BaseMessage` objects)."""
    lists = items(message_lists)
    result = []
    for message in items(lists[0]) if lists else ():
        role = MESSAGE_ROLES.get(getattr(message, "type", ""), str(getattr(message, "type", "user")))
        parts = _message_parts(getattr(message, "content", ""))
        for call in map(mapping, items(getattr(message, "tool_calls", None))):
            parts.append(
                {"type": "tool_call", "id": call.get("id"), "name": call.get("name"), "arguments": call.get("args")}
            )
        if role == "tool":
            parts = [
                {
                    "type": "tool_call_response",
                    "id": getattr(message, "tool_call_id", None),
                    "response": getattr(message, "content", None),
                }
            ]
        result.append({"role": role, "parts": parts})
    return result


def prompt_messages(prompts: Any) -> list[dict[str, Any]]:
    """GenAI input messages for a text-completion run (the first prompt)."""
    prompts = items(prompts)
    return [{"role": "user", "parts": [text_part(prompts[0])]}] if prompts else []


def read_llm_result(call: ModelCall, response: Any, capture: bool) -> None:
    """Fill what the client layer below did not already report: usage, response model and id, outputs."""
    output = mapping(getattr(response, "llm_output", None))
    usage = mapping(output.get("token_usage") or output.get("usage"))
    generations = [g for batch in items(getattr(response, "generations", None)) for g in items(batch)]
    message_usage = mapping(
        next((u for g in generations if (u := getattr(getattr(g, "message", None), "usage_metadata", None))), None)
    )
    if call.input_tokens is None:
        call.input_tokens = first_whole_number(usage.get("prompt_tokens"), message_usage.get("input_tokens"))
    if call.output_tokens is None:
        call.output_tokens = first_whole_number(usage.get("completion_tokens"), message_usage.get("output_tokens"))
    details = mapping(message_usage.get("input_token_details"))
    if call.cache_read_input_tokens is None:
        call.cache_read_input_tokens = whole_number(details.get("cache_read"))
    if call.cache_write_input_tokens is None:
        call.cache_write_input_tokens = whole_number(details.get("cache_creation"))
    if call.response_model is None and isinstance(output.get("model_name"), str):
        call.response_model = output["model_name"]
    if call.response_id is None and isinstance(output.get("id"), str):
        call.response_id = output["id"]
    if call.system_fingerprint is None and isinstance(output.get("system_fingerprint"), str):
        call.system_fingerprint = output["system_fingerprint"]
    if not call.finish_reasons:
        reasons = [mapping(getattr(g, "generation_info", None)).get("finish_reason") for g in generations]
        call.finish_reasons = [str(r) for r in reasons if r]
    if capture and call.output_messages is None:
        call.output_messages = [_output_message(g) for g in generations]


def _output_message(generation: Any) -> OutputMessage:
    message = getattr(generation, "message", None)
    text = getattr(message, "content", None) if message is not None else getattr(generation, "text", "")
    calls = [mapping(c) for c in items(getattr(message, "tool_calls", None))]
    tool_calls = [ToolCall(c.get("id"), c.get("name"), str(c.get("args", ""))) for c in calls]
    reason = mapping(getattr(generation, "generation_info", None)).get("finish_reason")
    return OutputMessage(text=text if isinstance(text, str) else str(text), tool_calls=tool_calls, finish_reason=reason)


def tool_step(
    serialized: Mapping[str, Any] | None, input_str: Any, kwargs: Mapping[str, Any], capture: bool
) -> ToolStep:
    """An `execute_tool` step; arguments only when content is captured."""
    name = run_name(serialized, kwargs, "tool")
    step = ToolStep(name=name, component=name, tool_name=name)
    description = serialized.get("description") if isinstance(serialized, Mapping) else None
    if isinstance(description, str) and description:
        step.description = description
    # langchain-core 1.x hands the id of the model's tool call to the callback; older releases never do
    call_id = kwargs.get("tool_call_id") or mapping(kwargs.get("inputs")).get("tool_call_id")
    if isinstance(call_id, str):
        step.call_id = call_id
    if capture:
        step.arguments = input_str if isinstance(input_str, str) else str(input_str)
    return step


def tool_result(step: ToolStep, output: Any, capture: bool) -> None:
    """The tool's result (only when content is captured); a `ToolMessage` with status "error" (a tool error LangChain
    turned into the answer, `handle_tool_error`) marks the step failed."""
    if getattr(output, "status", None) == "error":
        step.error_type = attr.ERROR_TYPE_TOOL_ERROR
        step.failure = str(getattr(output, "content", "")) or attr.ERROR_TYPE_TOOL_ERROR
    if capture:
        step.result = str(getattr(output, "content", output))


def retriever_step(
    serialized: Mapping[str, Any] | None, query: Any, kwargs: Mapping[str, Any], capture: bool
) -> RetrievalStep:
    """A `retrieval` step; the query text only when content is captured."""
    name = run_name(serialized, kwargs, "retriever")
    step = RetrievalStep(name=name, component=name)
    if capture:
        step.query = str(query)
    return step


class _Documents:
    """LangChain `Document`s: the id (`Document.id`, else an `id` in the metadata), the score a retriever or a
    compressor left in the metadata (`score`, `relevance_score`) or on the document, the page content."""

    def id(self, document: Any) -> str | None:
        value = getattr(document, "id", None) or mapping(getattr(document, "metadata", None)).get("id")
        return str(value) if value is not None and value != "" else None

    def score(self, document: Any) -> float | None:
        metadata = mapping(getattr(document, "metadata", None))
        value = metadata.get("score")
        if value is None:
            value = metadata.get("relevance_score")
        if value is None:  # a document subclass with its own field (read from the instance: no pydantic miss)
            value = mapping(getattr(document, "__dict__", None)).get("score")
        found = number(value)
        return None if found is None else float(found)

    def text(self, document: Any) -> str | None:
        value = getattr(document, "page_content", None)
        return value if isinstance(value, str) else None


_DOCUMENTS = _Documents()


def retriever_result(step: RetrievalStep, documents: Any, capture: bool) -> None:
    """The documents found: counted now, read (ids, scores, texts) if the span records."""
    documents = items(documents)
    step.documents = len(documents)
    step.returned = documents
    step.reader = _DOCUMENTS
