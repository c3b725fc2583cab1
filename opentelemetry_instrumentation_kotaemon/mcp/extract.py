"""Reading MCP requests, results, errors and transports into `McpRequest` records (mcp 1.x and 2.x models)."""

from __future__ import annotations

import contextvars
import functools
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import propagate

from .. import attributes as attr
from ..core.spans.mcp import McpRequest

_RESULT_CONTENT_METHODS = frozenset({"tools/call"})
INVALID_PARAMS = "-32602"
"""The JSON-RPC error code for invalid method parameters."""


@dataclass(slots=True)
class Transport:
    """What a client transport connects over; never its command line, environment or URL path and query."""

    transport: str
    protocol_name: str | None = None
    server_address: str | None = None
    server_port: int | None = None
    session_id: Any = None
    """A callable returning the session id (streamable HTTP: read from its transport object), when it has one."""


current_transport: contextvars.ContextVar[Transport | None] = contextvars.ContextVar(
    "kotaemon_mcp_transport", default=None
)
"""The transport whose `async with` block the caller is in (a ClientSession is opened on its streams)."""


def transport(kind: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Transport:
    """Describe a transport from the arguments of `stdio_client`, `sse_client` or `streamablehttp_client`."""
    if kind == "stdio":
        return Transport("pipe")  # the command, its arguments and environment hold secrets: never read
    url = kwargs.get("url", args[0] if args else None)
    found = Transport("tcp", protocol_name="http")
    if isinstance(url, str):
        parts = urlsplit(url)
        found.server_address = parts.hostname
        try:
            found.server_port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            found.server_port = None
    return found


def client_request(request: Any, captures_content: bool) -> McpRequest:
    """The record of a request a session is about to send."""
    root = getattr(request, "root", request)
    params = getattr(root, "params", None)
    record = McpRequest(method=str(root.method))
    _read_params(record, params, captures_content)
    return record


def _read_params(record: McpRequest, params: Any, captures_content: bool) -> None:
    """Read a request's params: a model (mcp 1.x, an mcp 2 client), or the raw mapping an mcp 2 server sees."""
    if params is None:
        return
    read = params.get if isinstance(params, Mapping) else functools.partial(getattr, params)
    name = read("name", None)
    if isinstance(name, str):
        if record.method == "tools/call":
            record.tool_name = name
            if captures_content:
                record.arguments = read("arguments", None)
        elif record.method == "prompts/get":
            record.prompt_name = name
    uri = read("uri", None)
    if uri is not None:
        record.resource_uri = str(uri)
    version = read("protocolVersion", None)
    if isinstance(version, str):
        record.protocol_version = version


def add_transport(record: McpRequest, found: Transport | None) -> None:
    if found is None:
        return
    record.transport = found.transport
    record.protocol_name = found.protocol_name
    record.server_address = found.server_address
    record.server_port = found.server_port
    add_session_id(record, found)


def add_session_id(record: McpRequest, found: Transport | None) -> None:
    """The session id the transport knows by now, if any (streamable HTTP, once the server has answered)."""
    if found is not None and callable(found.session_id):
        session_id = found.session_id()
        if isinstance(session_id, str) and session_id:
            record.session_id = session_id


def protocol_version(result: Any) -> str | None:
    """The protocol version an `initialize` result settled on."""
    version = getattr(result, "protocolVersion", None) or getattr(result, "protocol_version", None)
    return version if isinstance(version, str) else None


def result(record: McpRequest, value: Any, captures_content: bool) -> None:
    """Read a result: a tool result flagged `isError` is a failed tool call (`error.type` tool_error)."""
    value = getattr(value, "root", value)
    if isinstance(value, Mapping):  # what an mcp 2 server's handlers return, serialised for the wire
        is_error = value.get("isError")
    else:
        is_error = getattr(value, "isError", None)
        if is_error is None:
            is_error = getattr(value, "is_error", None)
    if is_error is True:
        record.error_type = attr.ERROR_TYPE_TOOL_ERROR
        return
    if captures_content and record.method in _RESULT_CONTENT_METHODS:
        record.result = _tool_result_content(value)


def _tool_result_content(value: Any) -> Any:
    structured = getattr(value, "structuredContent", None) or getattr(value, "structured_content", None)
    if structured is not None:
        return structured
    parts = []
    for part in getattr(value, "content", None) or ():
        text = getattr(part, "text", None)
        parts.append(
            {"type": "text", "content": text} if isinstance(text, str) else {"type": getattr(part, "type", "")}
        )
    return parts


def error(record: McpRequest, raised: BaseException) -> None:
    """Read a JSON-RPC error (McpError / MCPError carry `.error`, an ErrorData with code and message)."""
    data = getattr(raised, "error", None)
    code = getattr(data, "code", None)
    if isinstance(code, int):
        record.error_code = record.error_type = str(code)
        message = getattr(data, "message", None)
        record.failure = message if isinstance(message, str) else None


def error_response(record: McpRequest, response: Any) -> None:
    """Read what a server sends back: an ErrorData, or a result (possibly a tool result flagged `isError`)."""
    response = getattr(response, "root", response)
    code = getattr(response, "code", None)
    if isinstance(code, int) and hasattr(response, "message"):
        record.error_code = record.error_type = str(code)
        record.failure = str(response.message)
        return
    result(record, response, captures_content=False)


def server_request(request: Any, request_id: Any, session: Any, request_context: Any) -> McpRequest:
    """The record of a request a low-level server received (mcp 1.x)."""
    record = McpRequest(method=str(getattr(request, "method", "")), server=True)
    _read_params(record, getattr(request, "params", None), captures_content=False)
    if request_id is not None:
        record.request_id = str(request_id)
    client_params = getattr(session, "client_params", None)
    version = getattr(client_params, "protocolVersion", None)
    if isinstance(version, str):
        record.protocol_version = version
    _add_server_transport(record, request_context)
    return record


def sdk_server_request(context: Any) -> McpRequest | None:
    """The record of a request an mcp 2 server received, from the context its middleware gets (None for a
    notification): what the SDK's own span says, and the transport, session and client it leaves out."""
    request_id = getattr(context, "request_id", None)
    if request_id is None:
        return None
    record = McpRequest(method=str(context.method), server=True, request_id=str(request_id))
    _read_params(record, getattr(context, "params", None), captures_content=False)
    version = getattr(context, "protocol_version", None)
    if isinstance(version, str):
        record.protocol_version = version
    _add_server_transport(record, getattr(context, "request", None))
    return record


def sdk_server_error(record: McpRequest, raised: BaseException) -> None:
    """Read a failure raised through an mcp 2 server's middleware as the SDK's span names it: a JSON-RPC error by its
    code, invalid parameters (pydantic's ValidationError) as INVALID_PARAMS, anything else by its class name."""
    error(record, raised)
    if record.error_type is not None:
        return
    cls = type(raised)
    if cls.__name__ == "ValidationError" and cls.__module__.startswith("pydantic"):
        record.error_code = record.error_type = INVALID_PARAMS
    else:
        record.error_type = cls.__qualname__


def _add_server_transport(record: McpRequest, request_context: Any) -> None:
    """What a received request came over: the HTTP request (SSE, streamable HTTP) the server read it from, if any."""
    if request_context is None:
        record.transport = "pipe"
        return
    record.transport = "tcp"
    record.protocol_name = "http"
    headers = getattr(request_context, "headers", None)
    query = getattr(request_context, "query_params", None)
    session_id = (headers.get("mcp-session-id") if headers is not None else None) or (
        query.get("session_id") if query is not None else None
    )
    if isinstance(session_id, str):
        record.session_id = session_id
    client = getattr(request_context, "client", None)
    if client is not None:
        record.client_address = getattr(client, "host", None)
        record.client_port = getattr(client, "port", None)


def carrier(meta: Any) -> dict[str, Any] | None:
    """The propagation fields a request carries in `params._meta` (traceparent, tracestate, baggage)."""
    if meta is None:
        return None
    extra = meta if isinstance(meta, dict) else getattr(meta, "model_extra", None)
    return {k: v for k, v in extra.items() if isinstance(v, str)} if extra else None


def with_trace_context(request: Any) -> Any:
    """A copy of a (1.x) request with the current trace context in `params._meta`; the request itself if none."""
    fields: dict[str, str] = {}
    propagate.inject(fields)
    if not fields:
        return request
    root = getattr(request, "root", None)
    if root is None:
        return request
    params = root.params
    if params is None:
        params_type = _params_type(type(root))
        if params_type is None:
            return request
        params = params_type.model_construct()
    meta = params.meta
    if meta is None:
        meta = type(params).model_fields["meta"]
        meta_type = _model_type(meta.annotation)
        if meta_type is None:
            return request
        meta = meta_type.model_construct()
    new_params = params.model_copy(update={"meta": meta.model_copy(update=fields)})
    return request.model_copy(update={"root": root.model_copy(update={"params": new_params})})


def _params_type(request_type: type) -> Any:
    field = getattr(request_type, "model_fields", {}).get("params")
    return _model_type(field.annotation) if field is not None else None


def _model_type(annotation: Any) -> Any:
    candidates = typing.get_args(annotation) or (annotation,)
    for candidate in candidates:
        if isinstance(candidate, type) and hasattr(candidate, "model_construct"):
            return candidate
    return None
