"""OpenAI requests read into `ModelCall` records: model, server, sampling parameters and (content) messages."""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from .. import attributes as attr
from ..core.content import text_part
from ..core.spans import ModelCall
from ..core.values import DEFAULT_PORTS, items
from .fields import field, given, given_number, given_strings, given_whole_number

PROVIDER = attr.PROVIDER_OPENAI
_AZURE_CLIENTS = frozenset({"AzureOpenAI", "AsyncAzureOpenAI"})
_PROVIDERS: dict[type, str] = {}


def provider_of_client(client: Any) -> str:
    """`azure.ai.openai` for the Azure clients (and their subclasses), else `openai`; decided once per class."""
    cls = type(client)
    found = _PROVIDERS.get(cls)
    if found is None:
        azure = any(klass.__name__ in _AZURE_CLIENTS for klass in cls.__mro__)
        found = _PROVIDERS[cls] = attr.PROVIDER_AZURE_OPENAI if azure else PROVIDER
    return found


SERVERS: weakref.WeakKeyDictionary[Any, tuple[Any, str | None, int | None]] = weakref.WeakKeyDictionary()
"""Each client's base URL and its host and port, parsed once per client and URL."""


def server_of_client(client: Any) -> tuple[str | None, int | None]:
    """Host and port of the client's base URL, parsed once per client and URL."""
    url = getattr(client, "base_url", None)
    if url is None:
        return None, None
    cached = SERVERS.get(client)
    if cached is not None and cached[0] is url:
        return cached[1], cached[2]
    host = getattr(url, "host", None) or None
    port = getattr(url, "port", None) or DEFAULT_PORTS.get(getattr(url, "scheme", ""))
    server = (host, port if isinstance(port, int) else None)
    with contextlib.suppress(TypeError):  # a client that is not weakly referenceable is just not cached
        SERVERS[client] = (url, *server)
    return server


_RAW_RESPONSE_HEADER = "X-Stainless-Raw-Response"
"""What the client's `with_raw_response` and `with_streaming_response` put in a call's `extra_headers`."""


def returns_http_response(kwargs: dict[str, Any]) -> bool:
    """Whether the call hands the caller the HTTP response (whose stream we never see, so cannot hide a chunk in)."""
    headers = kwargs.get("extra_headers")
    return isinstance(headers, Mapping) and _RAW_RESPONSE_HEADER in headers


def new_call(operation: str, instance: Any, kwargs: dict[str, Any]) -> ModelCall:
    """The request-side record shared by every OpenAI operation."""
    model = given(kwargs.get("model"))
    call = ModelCall(operation=operation, provider=PROVIDER, request_model=model if isinstance(model, str) else None)
    client = getattr(instance, "_client", None)
    if client is not None:
        call.provider = provider_of_client(client)
        call.server_address, call.server_port = server_of_client(client)
    return call


_SAMPLING_PARAMS: tuple[tuple[str, str, Callable[[Any], Any]], ...] = (
    ("temperature", "temperature", given_number),
    ("top_p", "top_p", given_number),
    ("max_tokens", "max_tokens", given_whole_number),
    ("max_completion_tokens", "max_tokens", given_whole_number),  # wins over max_tokens
    ("stop", "stop_sequences", given_strings),
    ("seed", "seed", given_whole_number),
    ("n", "choice_count", given_whole_number),
    ("frequency_penalty", "frequency_penalty", given_number),
    ("presence_penalty", "presence_penalty", given_number),
)
"""Request parameter, record field, reader: only parameters the caller passed are read."""


def read_sampling_params(call: ModelCall, kwargs: dict[str, Any]) -> None:
    for name, field_name, read in _SAMPLING_PARAMS:
        if name in kwargs:
            value = read(kwargs[name])
            if value is not None:
                setattr(call, field_name, value)
    call.streaming = bool(given(kwargs.get("stream")))
    read_service_tier(call, kwargs)


def read_service_tier(call: ModelCall, kwargs: dict[str, Any]) -> None:
    """The service tier asked for, unless the default (`auto`)."""
    tier = given(kwargs.get("service_tier"))
    if isinstance(tier, str) and tier != "auto":
        call.request_service_tier = tier


def content_parts(content: Any) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [text_part(content)]
    parts = []
    if isinstance(content, (list, tuple)):
        for part in content:
            kind = field(part, "type")
            if kind in ("text", "input_text", "output_text"):
                parts.append(text_part(field(part, "text")))
            elif isinstance(part, str):
                parts.append(text_part(part))
            else:
                parts.append({"type": str(kind or type(part).__name__)})
        return parts
    return [text_part(str(content))]


def _tool_call_parts(tool_calls: Any) -> list[dict[str, Any]]:
    parts = []
    for tool_call in items(tool_calls):
        function = field(tool_call, "function")
        parts.append(
            {
                "type": "tool_call",
                "id": field(tool_call, "id"),
                "name": field(function, "name") if function is not None else None,
                "arguments": field(function, "arguments") if function is not None else None,
            }
        )
    return parts


def input_messages(messages: Any) -> list[dict[str, Any]]:
    """Chat `messages` as GenAI input messages."""
    result = []
    for message in items(messages):
        role = field(message, "role")
        content = field(message, "content")
        if role == "tool":
            parts = [{"type": "tool_call_response", "id": field(message, "tool_call_id"), "response": content}]
        else:
            parts = content_parts(content) + _tool_call_parts(field(message, "tool_calls"))
        result.append({"role": role, "parts": parts})
    return result
