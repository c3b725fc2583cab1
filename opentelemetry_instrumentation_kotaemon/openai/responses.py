"""OpenAI responses read into `ModelCall` records: identity, usage, finish reasons and (content) the output."""

from __future__ import annotations

from typing import Any

from ..core.spans import ModelCall, OutputMessage, ToolCall
from ..core.values import items, text, whole_number
from .fields import field

CHAT_USAGE = ("prompt_tokens", "completion_tokens", "prompt_tokens_details", "completion_tokens_details")
"""Usage field names of chat and legacy completions: input, output, input details, output details."""
RESPONSES_USAGE = ("input_tokens", "output_tokens", "input_tokens_details", "output_tokens_details")
"""Usage field names of the Responses API."""

# Only fields the response type declares are read: a miss on a pydantic model goes through its `__getattr__` and
# an exception, about thirty times the cost of a hit.


def read_usage(call: ModelCall, usage: Any, names: tuple[str, str, str, str]) -> None:
    if usage is None:
        return
    input_name, output_name, input_details, output_details = names
    tokens = whole_number(field(usage, input_name))
    if tokens is not None:
        call.input_tokens = tokens
    tokens = whole_number(field(usage, output_name))
    if tokens is not None:
        call.output_tokens = tokens
    details = field(usage, input_details)
    if details is not None:
        cached = whole_number(field(details, "cached_tokens"))
        if cached is not None:
            call.cache_read_input_tokens = cached
        written = whole_number(_declared_or_extra(details, "cache_write_tokens"))
        if written is not None:
            call.cache_write_input_tokens = written
    details = field(usage, output_details)
    reasoning = whole_number(field(details, "reasoning_tokens")) if details is not None else None
    if reasoning is not None:
        call.reasoning_output_tokens = reasoning


def _declared_or_extra(obj: Any, name: str) -> Any:
    """A field newer clients declare and older ones keep as an extra (or a dict key), read without a miss."""
    if isinstance(obj, dict):
        return obj.get(name)
    value = getattr(obj, "__dict__", {}).get(name)
    if value is None:
        extra = getattr(obj, "__pydantic_extra__", None)
        value = extra.get(name) if isinstance(extra, dict) else None
    return value


def read_response_model(call: ModelCall, response: Any) -> None:
    model = field(response, "model")
    if isinstance(model, str) and call.response_model is None:
        call.response_model = model


def read_identity(call: ModelCall, response: Any, fingerprint: bool = True) -> None:
    """Id, model, service tier and (chat and completions only) system fingerprint of a response."""
    response_id = field(response, "id")
    if isinstance(response_id, str) and call.response_id is None:
        call.response_id = response_id
    read_response_model(call, response)
    if fingerprint:
        value = field(response, "system_fingerprint")
        if isinstance(value, str):
            call.system_fingerprint = value
    tier = field(response, "service_tier")
    if isinstance(tier, str):
        call.service_tier = tier


def finish_reasons(choices: Any) -> list[str]:
    """The finish reason of each choice that has one (chat and legacy completions)."""
    return [reason for choice in items(choices) if (reason := text(field(choice, "finish_reason")))]


def chat_output(choice: Any) -> OutputMessage:
    message = field(choice, "message")
    output = OutputMessage(finish_reason=text(field(choice, "finish_reason")))
    if message is None:
        return output
    output.role = field(message, "role") or "assistant"
    content = field(message, "content")
    output.text = content if isinstance(content, str) else ""
    for tool_call in items(field(message, "tool_calls")):
        function = field(tool_call, "function")
        output.tool_calls.append(
            ToolCall(
                id=field(tool_call, "id"),
                name=field(function, "name") if function is not None else None,
                arguments=(field(function, "arguments") if function is not None else None) or "",
            )
        )
    return output


def read_response_object(call: ModelCall, response: Any, capture: bool) -> None:
    """Fill the record from a Responses API `Response` object."""
    read_identity(call, response, fingerprint=False)
    read_usage(call, field(response, "usage"), RESPONSES_USAGE)
    status = field(response, "status")
    details = field(response, "incomplete_details")
    reason = field(details, "reason") if details is not None else None
    finish = "stop" if status == "completed" else (reason or status)
    if isinstance(finish, str):
        call.finish_reasons = [finish]
    if not capture:
        return
    message = OutputMessage(finish_reason=finish if isinstance(finish, str) else None)
    texts: list[str] = []
    for item in items(field(response, "output")):
        kind = field(item, "type")
        if kind == "message":
            texts.extend(str(field(part, "text") or "") for part in items(field(item, "content")))
        elif kind == "function_call":
            message.tool_calls.append(
                ToolCall(
                    id=field(item, "call_id"),
                    name=field(item, "name"),
                    arguments=field(item, "arguments") or "",
                )
            )
    message.text = "".join(texts)
    call.output_messages = [message]
