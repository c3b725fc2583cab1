"""LLM and embedding calls on Kotaemon components: their request (from the component's settings and the call's
arguments) and their result (`LLMInterface`, embeddings, streamed chunks) read into `ModelCall` records."""

from __future__ import annotations

from typing import Any

from .. import attributes as attr
from ..core.content import text_part
from ..core.spans import ModelCall, OutputMessage, ToolCall
from ..core.values import MESSAGE_ROLES, number, server_of_url, strings
from .classify import Family, class_key
from .params import first_setting, setting, step_name

# Provider by a fragment of the component class name (first match wins).
_PROVIDERS = (
    ("azure", "azure.ai.openai"),
    ("openai", "openai"),
    ("anthropic", "anthropic"),
    ("gemini", "gcp.gemini"),
    ("google", "gcp.gemini"),
    ("cohere", "cohere"),
    ("ollama", "ollama"),
    ("mistral", "mistral_ai"),
    ("voyage", "voyageai"),
    ("llamacpp", "llama_cpp"),
    ("fastembed", "fastembed"),
    ("huggingface", "huggingface"),
)


def _first_argument(args: tuple[Any, ...], kwargs: dict[str, Any], *names: str) -> Any:
    for name in names:
        if name in kwargs:
            return kwargs[name]
    return args[0] if args else None


def _provider(cls: type) -> str:
    name = class_key(cls).lower()
    for fragment, provider in _PROVIDERS:
        if fragment in name:
            return provider
    return "kotaemon"


def _message_parts(messages: Any) -> list[dict[str, Any]]:
    """Input messages in the GenAI JSON shape, from a str, one message or a list of them."""
    if isinstance(messages, str):
        return [{"role": "user", "parts": [text_part(messages)]}]
    out = []
    for message in messages if isinstance(messages, (list, tuple)) else [messages]:
        if isinstance(message, str):
            out.append({"role": "user", "parts": [text_part(message)]})
            continue
        role = MESSAGE_ROLES.get(getattr(message, "type", ""), "user")
        content = getattr(message, "content", None)
        message_text = content if isinstance(content, str) else str(getattr(message, "text", "") or "")
        out.append({"role": role, "parts": [text_part(message_text)]})
    return out


def model_call(
    obj: Any, family: Family, method: str, args: tuple[Any, ...], kwargs: dict[str, Any], content: bool
) -> ModelCall:
    """The request record of an LLM or embedding call on a Kotaemon component."""
    cls = type(obj)
    if family.kind == attr.KIND_EMBEDDING:
        operation = attr.OPERATION_EMBEDDINGS
    else:
        operation = attr.OPERATION_TEXT_COMPLETION if family.completion else attr.OPERATION_CHAT
    model = first_setting(obj, "model", "model_name", "azure_deployment", "deployment_name", "deployment")
    call = ModelCall(
        operation=operation,
        provider=_provider(cls),
        request_model=model if isinstance(model, str) else None,
        component=class_key(cls),
        streaming=method in ("stream", "astream"),
        step_name=step_name(obj),
    )
    url = first_setting(obj, "base_url", "openai_api_base", "azure_endpoint", "endpoint_url")
    call.server_address, call.server_port = server_of_url(url)
    if operation == attr.OPERATION_EMBEDDINGS:
        dimensions = number(setting(obj, "dimensions"))
        if isinstance(dimensions, int):
            call.embedding_dimensions = dimensions
        return call

    # call kwargs override the component's settings at request time
    def pick(name: str) -> Any:
        value = kwargs.get(name)
        return value if value is not None else first_setting(obj, name)

    call.temperature = number(pick("temperature"))
    call.top_p = number(pick("top_p"))
    max_tokens = number(pick("max_tokens"))
    call.max_tokens = max_tokens if isinstance(max_tokens, int) else None
    call.stop_sequences = strings(pick("stop"))
    count = number(pick("n"))
    call.choice_count = count if isinstance(count, int) and count != 1 else None
    call.frequency_penalty = number(pick("frequency_penalty"))
    call.presence_penalty = number(pick("presence_penalty"))
    if content:
        messages = _first_argument(args, kwargs, "messages", "text")
        if messages is not None:
            call.input_messages = _message_parts(messages)
        tools = pick("tools")
        if isinstance(tools, list) and tools:
            call.tool_definitions = tools
    return call


def llm_result(call: ModelCall, result: Any, content: bool) -> None:
    """Fill the record from an `LLMInterface`: tokens only where no lower layer reported them."""
    prompt = number(getattr(result, "prompt_tokens", None))
    completion = number(getattr(result, "completion_tokens", None))
    if call.input_tokens is None and isinstance(prompt, int) and prompt > 0:
        call.input_tokens = prompt
    if call.output_tokens is None and isinstance(completion, int) and completion > 0:
        call.output_tokens = completion
    if content and call.output_messages is None:
        text = getattr(result, "text", None)
        message = OutputMessage(text=text if isinstance(text, str) else "")
        extra = getattr(result, "additional_kwargs", None)
        tool_calls = extra.get("tool_calls") if isinstance(extra, dict) else None
        for tool_call in tool_calls if isinstance(tool_calls, list) else ():
            function = tool_call.get("function") if isinstance(tool_call, dict) else None
            if isinstance(function, dict):
                message.tool_calls.append(
                    ToolCall(id=tool_call.get("id"), name=function.get("name"), arguments=function.get("arguments", ""))
                )
        call.output_messages = [message]


def embedding_result(call: ModelCall, result: Any) -> None:
    if call.embedding_dimensions is None and isinstance(result, list) and result:
        vector = getattr(result[0], "embedding", None)
        if isinstance(vector, list):
            call.embedding_dimensions = len(vector)


class StreamText:
    """Collects the text of streamed `LLMInterface` chunks into the record, when content is captured."""

    __slots__ = ("call", "parts")

    def __init__(self, call: ModelCall) -> None:
        self.call = call
        self.parts: list[str] = []

    def add(self, chunk: Any) -> None:
        text = getattr(chunk, "text", None)
        if isinstance(text, str):
            self.parts.append(text)
            self.call.output_messages = [OutputMessage(text="".join(self.parts))]
