"""OpenAI operations (chat completions, legacy completions, embeddings, responses): for each, the request read into a
`ModelCall` (`requests`) and the result read back into it (`responses`, or `streams` for a stream). No patching here.

Everything is read defensively, because OpenAI-compatible servers return odd shapes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import attributes as attr
from ..core.content import text_part
from ..core.spans import ModelCall, OutputMessage
from ..core.streams import ChunkHandler
from ..core.telemetry import Telemetry
from ..core.values import items, text, whole_number
from . import responses
from .fields import field, given, given_number, given_whole_number
from .requests import (
    content_parts,
    input_messages,
    new_call,
    read_sampling_params,
    read_service_tier,
    returns_http_response,
)
from .streams import ChatStreamHandler, CompletionStreamHandler, ResponseStreamHandler, is_stream
from .usage_chunk import UsageChunkReader
from .usage_requests import UsageRequests


class OpenAIExtractor:
    """Builds records for each OpenAI operation; holds the telemetry's content switch and stream settings."""

    def __init__(self, telemetry: Telemetry) -> None:
        self.telemetry = telemetry
        self.usage_requests = UsageRequests(telemetry.settings.openai_stream_usage)

    def chat_request(
        self, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[ModelCall, dict[str, Any]]:
        call = new_call(attr.OPERATION_CHAT, instance, kwargs)
        read_sampling_params(call, kwargs)
        response_format = given(kwargs.get("response_format"))
        if response_format is not None:
            kind = field(response_format, "type") if not isinstance(response_format, type) else "json_schema"
            call.output_type = "json" if kind in ("json_object", "json_schema") else "text"
        if self.telemetry.captures_content:
            call.input_messages = input_messages(given(kwargs.get("messages")))
            tools = given(kwargs.get("tools"))
            if tools:
                call.tool_definitions = list(items(tools))
        if (
            call.streaming
            and given(kwargs.get("stream_options")) is None
            and not returns_http_response(kwargs)
            and self.usage_requests.asks(getattr(instance, "_client", None), kwargs)
        ):
            kwargs = self._with_usage_request(call, kwargs)
        return call, kwargs

    def chat_refused(self, call: ModelCall, instance: Any, kwargs: dict[str, Any], error: BaseException) -> bool:
        """Whether `error` is the server refusing the usage request we added (the call is then made as the app made
        it)."""
        return self.usage_requests.refused(call, instance, kwargs, error)

    @staticmethod
    def _with_usage_request(call: ModelCall, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Ask a stream for its usage chunk, unless the app's own extra body says otherwise.

        Sent in `extra_body`, which the client sends as it is: as a `stream_options` argument it would go through the
        client's parameter transformation, one more nested pass (about 100k instructions per streamed call).
        """
        extra_body = given(kwargs.get("extra_body"))
        if extra_body is not None and (not isinstance(extra_body, Mapping) or "stream_options" in extra_body):
            return kwargs
        call.stream_usage_requested = True
        return {**kwargs, "extra_body": {**(extra_body or {}), "stream_options": {"include_usage": True}}}

    def chat_result(self, call: ModelCall, result: Any) -> ChunkHandler | None:
        if call.streaming and is_stream(result):
            if call.stream_usage_requested:
                UsageChunkReader.install(result)
            return ChatStreamHandler(call, self.telemetry.captures_content)
        choices = field(result, "choices")
        if choices is None:  # a raw response wrapper, or an unexpected shape
            return None
        responses.read_identity(call, result)
        responses.read_usage(call, field(result, "usage"), responses.CHAT_USAGE)
        call.finish_reasons = responses.finish_reasons(choices)
        if self.telemetry.captures_content:  # the messages are built only to be exported
            call.output_messages = [responses.chat_output(choice) for choice in items(choices)]
        return None

    # --- legacy completions

    def completion_request(
        self, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[ModelCall, dict[str, Any]]:
        call = new_call(attr.OPERATION_TEXT_COMPLETION, instance, kwargs)
        read_sampling_params(call, kwargs)
        if self.telemetry.captures_content:
            prompt = given(kwargs.get("prompt"))
            prompts = prompt if isinstance(prompt, list) else [prompt]
            call.input_messages = [{"role": "user", "parts": content_parts(p)} for p in prompts if p is not None]
        return call, kwargs

    def completion_result(self, call: ModelCall, result: Any) -> ChunkHandler | None:
        if call.streaming and is_stream(result):
            return CompletionStreamHandler(call, self.telemetry.captures_content)
        choices = field(result, "choices")
        if choices is None:
            return None
        responses.read_identity(call, result)
        responses.read_usage(call, field(result, "usage"), responses.CHAT_USAGE)
        call.finish_reasons = responses.finish_reasons(choices)
        if self.telemetry.captures_content:
            call.output_messages = [
                OutputMessage(text=text(field(c, "text")) or "", finish_reason=text(field(c, "finish_reason")))
                for c in items(choices)
            ]
        return None

    # --- embeddings

    def embeddings_request(
        self, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[ModelCall, dict[str, Any]]:
        call = new_call(attr.OPERATION_EMBEDDINGS, instance, kwargs)
        encoding = given(kwargs.get("encoding_format"))
        if isinstance(encoding, str):
            call.encoding_formats = [encoding]
        dimensions = given_number(kwargs.get("dimensions"))
        if isinstance(dimensions, int):
            call.embedding_dimensions = dimensions
        return call, kwargs

    def embeddings_result(self, call: ModelCall, result: Any) -> ChunkHandler | None:
        data = field(result, "data")
        if data is None:
            return None
        responses.read_response_model(call, result)
        usage = field(result, "usage")
        tokens = whole_number(field(usage, "prompt_tokens")) if usage is not None else None
        if tokens is not None:
            call.input_tokens = tokens
        if items(data):
            vector = field(data[0], "embedding")
            if isinstance(vector, (list, tuple)):
                call.embedding_dimensions = len(vector)
        return None

    # --- responses

    def responses_request(
        self, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[ModelCall, dict[str, Any]]:
        call = new_call(attr.OPERATION_CHAT, instance, kwargs)
        call.temperature = given_number(kwargs.get("temperature"))
        call.top_p = given_number(kwargs.get("top_p"))
        call.max_tokens = given_whole_number(kwargs.get("max_output_tokens"))
        call.streaming = bool(given(kwargs.get("stream")))
        read_service_tier(call, kwargs)
        if self.telemetry.captures_content:
            request_input = given(kwargs.get("input"))
            if isinstance(request_input, str):
                call.input_messages = [{"role": "user", "parts": [text_part(request_input)]}]
            elif request_input is not None:
                call.input_messages = input_messages(request_input)
            instructions = given(kwargs.get("instructions"))
            if isinstance(instructions, str):
                call.system_instructions = [text_part(instructions)]
            tools = given(kwargs.get("tools"))
            if tools:
                call.tool_definitions = list(items(tools))
        return call, kwargs

    def responses_result(self, call: ModelCall, result: Any) -> ChunkHandler | None:
        if call.streaming and is_stream(result):
            return ResponseStreamHandler(call, self.telemetry.captures_content)
        if field(result, "output") is None:
            return None
        responses.read_response_object(call, result, self.telemetry.captures_content)
        return None
