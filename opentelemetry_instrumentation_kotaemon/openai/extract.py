"""Read OpenAI client requests and responses into `ModelCall` records. No patching, no spans here.

Everything is read defensively with `getattr`, because OpenAI-compatible servers return odd shapes.
"""

from __future__ import annotations

import contextlib
import logging
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from .. import attributes as attr
from ..core.content import text_part
from ..core.spans import ModelCall, OutputMessage, ToolCall
from ..core.streams import ChunkHandler
from ..core.telemetry import Telemetry
from ..core.values import number, whole_number

logger = logging.getLogger(__name__)

PROVIDER = attr.PROVIDER_OPENAI
_DEFAULT_PORTS = {"https": 443, "http": 80}
_AZURE_CLIENTS = frozenset({"AzureOpenAI", "AsyncAzureOpenAI"})
_providers: dict[type, str] = {}


def provider(client: Any) -> str:
    """`azure.ai.openai` for the Azure clients (and their subclasses), else `openai`; cached per class."""
    cls = type(client)
    found = _providers.get(cls)
    if found is None:
        azure = any(klass.__name__ in _AZURE_CLIENTS for klass in cls.__mro__)
        found = _providers[cls] = attr.PROVIDER_AZURE_OPENAI if azure else PROVIDER
    return found


def given(value: Any) -> Any:
    """The value, or None for the client's "not given" sentinels (`NOT_GIVEN`, `omit`)."""
    if value is None or type(value).__name__ in ("NotGiven", "Omit"):
        return None
    return value


def _number(value: Any) -> int | float | None:
    """A numeric request parameter; None for the client's "not given" sentinels."""
    return number(given(value))


def _whole_number(value: Any) -> int | None:
    """An integer request parameter; None for the client's "not given" sentinels."""
    return whole_number(given(value))


def _string_list(value: Any) -> list[str] | None:
    value = given(value)
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def _items(value: Any) -> list[Any] | tuple[Any, ...]:
    """The value if it is a list or tuple, else an empty tuple (servers and apps send odd shapes)."""
    return value if isinstance(value, (list, tuple)) else ()


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _index(value: Any) -> int:
    return value if isinstance(value, int) else 0


def _field(obj: Any, name: str) -> Any:
    """A field of a pydantic object or a dict."""
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


_servers: weakref.WeakKeyDictionary[Any, tuple[Any, str | None, int | None]] = weakref.WeakKeyDictionary()


def _server(client: Any) -> tuple[str | None, int | None]:
    """Host and port of the client's base URL, parsed once per client and URL."""
    url = getattr(client, "base_url", None)
    if url is None:
        return None, None
    cached = _servers.get(client)
    if cached is not None and cached[0] is url:
        return cached[1], cached[2]
    host = getattr(url, "host", None) or None
    port = getattr(url, "port", None) or _DEFAULT_PORTS.get(getattr(url, "scheme", ""))
    server = (host, port if isinstance(port, int) else None)
    with contextlib.suppress(TypeError):  # a client that is not weakly referenceable is just not cached
        _servers[client] = (url, *server)
    return server


_RAW_RESPONSE_HEADER = "X-Stainless-Raw-Response"
"""What the client's `with_raw_response` and `with_streaming_response` put in a call's `extra_headers`."""


def _returns_http_response(kwargs: dict[str, Any]) -> bool:
    """Whether the call hands the caller the HTTP response (whose stream we never see, so cannot hide a chunk in)."""
    headers = kwargs.get("extra_headers")
    return isinstance(headers, Mapping) and _RAW_RESPONSE_HEADER in headers


def new_call(operation: str, instance: Any, kwargs: dict[str, Any]) -> ModelCall:
    """The request-side record shared by every OpenAI operation."""
    model = given(kwargs.get("model"))
    call = ModelCall(operation=operation, provider=PROVIDER, request_model=model if isinstance(model, str) else None)
    client = getattr(instance, "_client", None)
    if client is not None:
        call.provider = provider(client)
        call.server_address, call.server_port = _server(client)
    return call


_SAMPLING_PARAMS: tuple[tuple[str, str, Callable[[Any], Any]], ...] = (
    ("temperature", "temperature", _number),
    ("top_p", "top_p", _number),
    ("max_tokens", "max_tokens", _whole_number),
    ("max_completion_tokens", "max_tokens", _whole_number),  # wins over max_tokens
    ("stop", "stop_sequences", _string_list),
    ("seed", "seed", _whole_number),
    ("n", "choice_count", _whole_number),
    ("frequency_penalty", "frequency_penalty", _number),
    ("presence_penalty", "presence_penalty", _number),
)
"""Request parameter, record field, reader: only parameters the caller passed are read."""


def _sampling_params(call: ModelCall, kwargs: dict[str, Any]) -> None:
    for name, field_name, read in _SAMPLING_PARAMS:
        if name in kwargs:
            value = read(kwargs[name])
            if value is not None:
                setattr(call, field_name, value)
    call.streaming = bool(given(kwargs.get("stream")))


CHAT_USAGE = ("prompt_tokens", "completion_tokens", "prompt_tokens_details", "completion_tokens_details")
"""Usage field names of chat and legacy completions: input, output, input details, output details."""
RESPONSES_USAGE = ("input_tokens", "output_tokens", "input_tokens_details", "output_tokens_details")
"""Usage field names of the Responses API."""

# Only fields the response type declares are read: a miss on a pydantic model goes through its `__getattr__` and
# an exception, about thirty times the cost of a hit.


def _usage(call: ModelCall, usage: Any, names: tuple[str, str, str, str]) -> None:
    if usage is None:
        return
    input_name, output_name, input_details, output_details = names
    tokens = whole_number(_field(usage, input_name))
    if tokens is not None:
        call.input_tokens = tokens
    tokens = whole_number(_field(usage, output_name))
    if tokens is not None:
        call.output_tokens = tokens
    details = _field(usage, input_details)
    cached = whole_number(_field(details, "cached_tokens")) if details is not None else None
    if cached is not None:
        call.cache_read_input_tokens = cached
    details = _field(usage, output_details)
    reasoning = whole_number(_field(details, "reasoning_tokens")) if details is not None else None
    if reasoning is not None:
        call.reasoning_output_tokens = reasoning


def _response_model(call: ModelCall, response: Any) -> None:
    model = _field(response, "model")
    if isinstance(model, str) and call.response_model is None:
        call.response_model = model


def _response_identity(call: ModelCall, response: Any, fingerprint: bool = True) -> None:
    """Id, model, service tier and (chat and completions only) system fingerprint of a response."""
    response_id = _field(response, "id")
    if isinstance(response_id, str) and call.response_id is None:
        call.response_id = response_id
    _response_model(call, response)
    if fingerprint:
        value = _field(response, "system_fingerprint")
        if isinstance(value, str):
            call.system_fingerprint = value
    tier = _field(response, "service_tier")
    if isinstance(tier, str):
        call.service_tier = tier


# --- message content


def _content_parts(content: Any) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [text_part(content)]
    parts = []
    if isinstance(content, (list, tuple)):
        for part in content:
            kind = _field(part, "type")
            if kind in ("text", "input_text", "output_text"):
                parts.append(text_part(_field(part, "text")))
            elif isinstance(part, str):
                parts.append(text_part(part))
            else:
                parts.append({"type": str(kind or type(part).__name__)})
        return parts
    return [text_part(str(content))]


def _tool_call_parts(tool_calls: Any) -> list[dict[str, Any]]:
    parts = []
    for tool_call in _items(tool_calls):
        function = _field(tool_call, "function")
        parts.append(
            {
                "type": "tool_call",
                "id": _field(tool_call, "id"),
                "name": _field(function, "name") if function is not None else None,
                "arguments": _field(function, "arguments") if function is not None else None,
            }
        )
    return parts


def input_messages(messages: Any) -> list[dict[str, Any]]:
    """Chat `messages` as GenAI input messages."""
    result = []
    for message in _items(messages):
        role = _field(message, "role")
        content = _field(message, "content")
        if role == "tool":
            parts = [{"type": "tool_call_response", "id": _field(message, "tool_call_id"), "response": content}]
        else:
            parts = _content_parts(content) + _tool_call_parts(_field(message, "tool_calls"))
        result.append({"role": role, "parts": parts})
    return result


def _chat_output(choice: Any) -> OutputMessage:
    message = _field(choice, "message")
    output = OutputMessage(finish_reason=_text(_field(choice, "finish_reason")))
    if message is None:
        return output
    output.role = _field(message, "role") or "assistant"
    content = _field(message, "content")
    output.text = content if isinstance(content, str) else ""
    for tool_call in _items(_field(message, "tool_calls")):
        function = _field(tool_call, "function")
        output.tool_calls.append(
            ToolCall(
                id=_field(tool_call, "id"),
                name=_field(function, "name") if function is not None else None,
                arguments=(_field(function, "arguments") if function is not None else None) or "",
            )
        )
    return output


# --- chat completions


class OpenAIExtractor:
    """Builds records for each OpenAI operation; holds the telemetry's content switch and stream settings."""

    def __init__(self, telemetry: Telemetry) -> None:
        self.telemetry = telemetry

    def chat_request(
        self, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[ModelCall, dict[str, Any]]:
        call = new_call(attr.OPERATION_CHAT, instance, kwargs)
        _sampling_params(call, kwargs)
        response_format = given(kwargs.get("response_format"))
        if response_format is not None:
            kind = _field(response_format, "type") if not isinstance(response_format, type) else "json_schema"
            call.output_type = "json" if kind in ("json_object", "json_schema") else "text"
        if self.telemetry.captures_content:
            call.input_messages = input_messages(given(kwargs.get("messages")))
            tools = given(kwargs.get("tools"))
            if tools:
                call.tool_definitions = list(_items(tools))
        if (
            call.streaming
            and self.telemetry.settings.openai_stream_usage
            and given(kwargs.get("stream_options")) is None
            and not _returns_http_response(kwargs)
        ):
            kwargs = {**kwargs, "stream_options": {"include_usage": True}}
            call.stream_usage_requested = True
        return call, kwargs

    def chat_result(self, call: ModelCall, result: Any) -> ChunkHandler | None:
        if call.streaming and _is_stream(result):
            if call.stream_usage_requested:
                _UsageChunkReader.install(result)
            return ChatStreamHandler(call, self.telemetry.captures_content)
        choices = _field(result, "choices")
        if choices is None:  # a raw response wrapper, or an unexpected shape
            return None
        _response_identity(call, result)
        _usage(call, _field(result, "usage"), CHAT_USAGE)
        outputs = [_chat_output(choice) for choice in _items(choices)]
        call.finish_reasons = [o.finish_reason for o in outputs if o.finish_reason]
        if self.telemetry.captures_content:
            call.output_messages = outputs
        return None

    # --- legacy completions

    def completion_request(
        self, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[ModelCall, dict[str, Any]]:
        call = new_call(attr.OPERATION_TEXT_COMPLETION, instance, kwargs)
        _sampling_params(call, kwargs)
        if self.telemetry.captures_content:
            prompt = given(kwargs.get("prompt"))
            prompts = prompt if isinstance(prompt, list) else [prompt]
            call.input_messages = [{"role": "user", "parts": _content_parts(p)} for p in prompts if p is not None]
        return call, kwargs

    def completion_result(self, call: ModelCall, result: Any) -> ChunkHandler | None:
        if call.streaming and _is_stream(result):
            return CompletionStreamHandler(call, self.telemetry.captures_content)
        choices = _field(result, "choices")
        if choices is None:
            return None
        _response_identity(call, result)
        _usage(call, _field(result, "usage"), CHAT_USAGE)
        outputs = [
            OutputMessage(text=_text(_field(c, "text")) or "", finish_reason=_text(_field(c, "finish_reason")))
            for c in _items(choices)
        ]
        call.finish_reasons = [o.finish_reason for o in outputs if o.finish_reason]
        if self.telemetry.captures_content:
            call.output_messages = outputs
        return None

    # --- embeddings

    def embeddings_request(
        self, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[ModelCall, dict[str, Any]]:
        call = new_call(attr.OPERATION_EMBEDDINGS, instance, kwargs)
        encoding = given(kwargs.get("encoding_format"))
        if isinstance(encoding, str):
            call.encoding_formats = [encoding]
        dimensions = _number(kwargs.get("dimensions"))
        if isinstance(dimensions, int):
            call.embedding_dimensions = dimensions
        return call, kwargs

    def embeddings_result(self, call: ModelCall, result: Any) -> ChunkHandler | None:
        data = _field(result, "data")
        if data is None:
            return None
        _response_model(call, result)
        usage = _field(result, "usage")
        tokens = whole_number(_field(usage, "prompt_tokens")) if usage is not None else None
        if tokens is not None:
            call.input_tokens = tokens
        if _items(data):
            vector = _field(data[0], "embedding")
            if isinstance(vector, (list, tuple)):
                call.embedding_dimensions = len(vector)
        return None

    # --- responses

    def responses_request(
        self, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[ModelCall, dict[str, Any]]:
        call = new_call(attr.OPERATION_CHAT, instance, kwargs)
        call.temperature = _number(kwargs.get("temperature"))
        call.top_p = _number(kwargs.get("top_p"))
        call.max_tokens = _whole_number(kwargs.get("max_output_tokens"))
        call.streaming = bool(given(kwargs.get("stream")))
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
                call.tool_definitions = list(_items(tools))
        return call, kwargs

    def responses_result(self, call: ModelCall, result: Any) -> ChunkHandler | None:
        if call.streaming and _is_stream(result):
            return ResponseStreamHandler(call, self)
        if _field(result, "output") is None:
            return None
        self.read_response_object(call, result)
        return None

    def read_response_object(self, call: ModelCall, response: Any) -> None:
        """Fill the record from a Responses API `Response` object."""
        _response_identity(call, response, fingerprint=False)
        _usage(call, _field(response, "usage"), RESPONSES_USAGE)
        status = _field(response, "status")
        details = _field(response, "incomplete_details")
        reason = _field(details, "reason") if details is not None else None
        finish = "stop" if status == "completed" else (reason or status)
        if isinstance(finish, str):
            call.finish_reasons = [finish]
        if not self.telemetry.captures_content:
            return
        message = OutputMessage(finish_reason=finish if isinstance(finish, str) else None)
        texts: list[str] = []
        for item in _items(_field(response, "output")):
            kind = _field(item, "type")
            if kind == "message":
                texts.extend(str(_field(part, "text") or "") for part in _items(_field(item, "content")))
            elif kind == "function_call":
                message.tool_calls.append(
                    ToolCall(
                        id=_field(item, "call_id"),
                        name=_field(item, "name"),
                        arguments=_field(item, "arguments") or "",
                    )
                )
        message.text = "".join(texts)
        call.output_messages = [message]


class _UsageChunkReader:
    """Stands in for the client of a stream whose usage chunk we asked for, until the stream starts.

    An OpenAI stream reads `_client._process_response_data` once, when its first chunk is asked for. This hands it
    a reader that leaves the usage-only chunk as the raw dict the client decoded: the caller never sees that chunk
    (the stream handler hides it), so building a model of it would be wasted work. The real client is put back
    at that moment; anything else read before it is read from the real client.
    """

    __slots__ = ("_client", "_stream")

    def __init__(self, stream: Any, client: Any) -> None:
        self._stream = stream
        self._client = client

    @classmethod
    def install(cls, stream: Any) -> None:
        """Stand in for the client of `stream`, a stream of the client's own classes that has not started.

        Anything unexpected leaves the stream as it is: the chunk is then built and hidden as any other.
        """
        import openai

        try:
            client = getattr(stream, "_client", None)
            if type(stream) in (openai.Stream, openai.AsyncStream) and hasattr(client, "_process_response_data"):
                stream._client = cls(stream, client)
        except Exception:
            logger.debug("failed to spare the client the usage chunk", exc_info=True)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    @property
    def _process_response_data(self) -> Callable[..., Any]:
        self._stream._client = self._client
        process = self._client._process_response_data

        def read(*, data: Any, cast_to: Any, response: Any) -> Any:
            # The same test as ChatStreamHandler's `hide`, inlined: this runs for every chunk of the stream.
            if type(data) is dict and data.get("usage") is not None and not data.get("choices"):
                return data
            return process(data=data, cast_to=cast_to, response=response)

        return read


def _is_stream(result: Any) -> bool:
    import openai

    return isinstance(result, (openai.Stream, openai.AsyncStream))


# --- stream handlers


class _ChoiceBuffer:
    __slots__ = ("finish_reason", "role", "text", "tools")

    def __init__(self) -> None:
        self.role = "assistant"
        self.text: list[str] = []
        self.tools: dict[int, ToolCall] = {}
        self.finish_reason: str | None = None

    def message(self) -> OutputMessage:
        return OutputMessage(
            role=self.role,
            text="".join(self.text),
            tool_calls=[self.tools[i] for i in sorted(self.tools)],
            finish_reason=self.finish_reason,
        )


class ChatStreamHandler:
    """Reads chat completion chunks: identity, usage, finish reasons and (with content) text and tool calls.

    Called for every chunk, so the common chunk (one choice, a bit of text, no finish reason) costs a few lookups.
    """

    def __init__(self, call: ModelCall, capture: bool) -> None:
        self.call = call
        self.capture = capture
        self.choices: dict[int, _ChoiceBuffer] = {}

    def on_chunk(self, chunk: Any) -> bool:
        if isinstance(chunk, dict):  # a raw chunk: the usage-only chunk we asked for, left undecoded
            choices, usage = chunk.get("choices"), chunk.get("usage")
        else:
            choices, usage = getattr(chunk, "choices", None), getattr(chunk, "usage", None)
        call = self.call
        # Decided first, so that even a failure below never shows the caller the usage-only chunk we asked for
        # (the test `_UsageChunkReader` applies before the client builds a chunk: keep the two alike).
        hide = call.stream_usage_requested and not choices and usage is not None
        try:
            if call.response_id is None:
                _response_identity(call, chunk)
            if usage is not None:
                _usage(call, usage, CHAT_USAGE)
            if isinstance(choices, (list, tuple)):
                capture = self.capture
                for choice in choices:
                    reason = _field(choice, "finish_reason")
                    if reason or capture:
                        self._read_choice(choice, _text(reason))
        except Exception:
            logger.debug("failed to read a chat stream chunk", exc_info=True)
        return not hide

    def _read_choice(self, choice: Any, reason: str | None) -> None:
        buffer = self._buffer(_index(_field(choice, "index")))
        if reason:
            buffer.finish_reason = reason
        if self.capture:
            self._read_delta(buffer, _field(choice, "delta"))

    def _buffer(self, index: int) -> _ChoiceBuffer:
        buffer = self.choices.get(index)
        if buffer is None:
            buffer = self.choices[index] = _ChoiceBuffer()
        return buffer

    @staticmethod
    def _read_delta(buffer: _ChoiceBuffer, delta: Any) -> None:
        if delta is None:
            return
        role = _text(_field(delta, "role"))
        if role:
            buffer.role = role
        content = _text(_field(delta, "content"))
        if content:
            buffer.text.append(content)
        for tool_delta in _items(_field(delta, "tool_calls")):
            index = _index(_field(tool_delta, "index"))
            tool = buffer.tools.get(index)
            if tool is None:
                tool = buffer.tools[index] = ToolCall()
            tool_id = _text(_field(tool_delta, "id"))
            if tool_id:
                tool.id = tool_id
            function = _field(tool_delta, "function")
            if function is not None:
                name = _text(_field(function, "name"))
                if name:
                    tool.name = name
                arguments = _text(_field(function, "arguments"))
                if arguments:
                    tool.arguments += arguments

    def on_end(self) -> None:
        ordered = [self.choices[i] for i in sorted(self.choices)]
        self.call.finish_reasons = [b.finish_reason for b in ordered if b.finish_reason]
        if self.capture:
            self.call.output_messages = [b.message() for b in ordered]


class CompletionStreamHandler(ChatStreamHandler):
    """Reads legacy completion chunks (`choices[].text`)."""

    def on_chunk(self, chunk: Any) -> bool:
        call = self.call
        if call.response_id is None:
            _response_identity(call, chunk)
        usage = _field(chunk, "usage")
        if usage is not None:
            _usage(call, usage, CHAT_USAGE)
        for choice in _items(_field(chunk, "choices")):
            buffer = self._buffer(_index(_field(choice, "index")))
            reason = _text(_field(choice, "finish_reason"))
            if reason:
                buffer.finish_reason = reason
            text = _text(_field(choice, "text"))
            if self.capture and text:
                buffer.text.append(text)
        return True


class ResponseStreamHandler:
    """Reads Responses API stream events; the final event carries the whole response."""

    _FINAL_EVENTS = ("response.completed", "response.incomplete", "response.failed")

    def __init__(self, call: ModelCall, extractor: OpenAIExtractor) -> None:
        self.call = call
        self.extractor = extractor

    def on_chunk(self, chunk: Any) -> bool:
        kind = _field(chunk, "type")
        if kind == "response.created":
            _response_identity(self.call, _field(chunk, "response"), fingerprint=False)
        elif kind in self._FINAL_EVENTS:
            self.extractor.read_response_object(self.call, _field(chunk, "response"))
        return True

    def on_end(self) -> None:
        return None
