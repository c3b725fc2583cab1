"""The MCP SDK (`mcp`): client sessions (any app: Kotaemon's `MCPTool`, LangChain MCP adapters, plain
`ClientSession`) and low-level servers (which `FastMCP` runs on).

Client side: every request a session sends gets a span named per the MCP conventions (`tools/call {tool}`), and
the trace context travels in the request's `params._meta`. A `tools/call` made inside a traced tool call is that
tool call: its MCP attributes are merged into the `execute_tool` span. Server side (mcp 1.x): each request
received opens a server span whose parent is the context in `params._meta`. mcp 2 traces its servers and injects
the context itself: there we replace its client span with ours (named per the conventions, merged into the tool
call), so each request still has one client span, and keep its server span, adding to it what ours say on mcp 1.x
(transport, session, client address) and recording the server duration metric.
"""

from __future__ import annotations

import functools
import logging
import weakref
from collections.abc import Callable
from contextlib import nullcontext, suppress
from typing import Any

from opentelemetry import trace

from .. import attributes as attr
from ..core.spans.mcp import McpRequest
from ..core.telemetry import LiveStep, Telemetry, current_request
from ..patching import Patcher, Target, check_version
from . import extract

logger = logging.getLogger(__name__)

Wrapper = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]


def instrument(patcher: Patcher, telemetry: Telemetry) -> None:
    """Wrap the MCP client session, transports and low-level server when `mcp` is imported."""
    hooks = Hooks(telemetry)
    patcher.patch(
        [
            # mcp 1.x: the one method every request goes through (both sessions inherit it)
            Target("mcp.shared.session", "BaseSession.send_request", hooks.send_request(inject=True)),
            Target("mcp.shared.session", "RequestResponder.respond", hooks.respond),
            Target("mcp.server.lowlevel.server", "Server._handle_request", hooks.handle_request),
            # mcp 2.x: the client session's own method; the SDK injects the context and traces servers itself
            Target("mcp.client.session", "ClientSession.send_request", hooks.send_request(inject=False)),
            Target("mcp.shared.jsonrpc_dispatcher", "otel_span", hooks.sdk_client_span),
            Target("mcp.server._otel", "OpenTelemetryMiddleware.__call__", hooks.sdk_server_span),
            # transports, for network.transport and the server's address
            Target("mcp.client.stdio", "stdio_client", hooks.transport("stdio")),
            Target("mcp.client.sse", "sse_client", hooks.transport("sse")),
            Target("mcp.client.streamable_http", "streamablehttp_client", hooks.transport("http")),
            Target("mcp.client.streamable_http", "streamable_http_client", hooks.transport("http")),
            # streamable HTTP: the transport object holds the session id the server gave (`mcp-session-id`)
            Target("mcp.client.streamable_http", "StreamableHTTPTransport.__init__", hooks.http_transport_created),
        ],
        before_wrapping=lambda: check_version("mcp"),
    )


class _TransportContext:
    """A transport's `async with` context that makes its description current for the sessions opened inside (and,
    while it is entered, for the transport objects it creates)."""

    __slots__ = ("_inner", "_token", "_transport")

    def __init__(self, inner: Any, transport: extract.Transport) -> None:
        self._inner = inner
        self._transport = transport
        self._token: Any = None

    async def __aenter__(self) -> Any:
        try:
            self._token = extract.current_transport.set(self._transport)
        except Exception:
            logger.debug("failed to describe an MCP transport", exc_info=True)
        try:
            return await self._inner.__aenter__()
        except BaseException:
            self._reset()
            raise

    async def __aexit__(self, *exc_info: Any) -> Any:
        self._reset()
        return await self._inner.__aexit__(*exc_info)

    def _reset(self) -> None:
        token, self._token = self._token, None
        if token is not None:
            with suppress(ValueError):  # exited in another context than the one it entered
                extract.current_transport.reset(token)


class Hooks:
    """The wrappers, sharing the telemetry and what each session learned (transport, protocol version)."""

    def __init__(self, telemetry: Telemetry) -> None:
        self.telemetry = telemetry
        self._sessions: weakref.WeakKeyDictionary[Any, tuple[extract.Transport | None, str | None]] = (
            weakref.WeakKeyDictionary()
        )

    # --- client

    def transport(self, kind: str) -> Wrapper:
        telemetry = self.telemetry

        def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            inner = wrapped(*args, **kwargs)
            if not telemetry.enabled:
                return inner
            try:
                return _TransportContext(inner, extract.transport(kind, args, kwargs))
            except Exception:
                logger.debug("failed to wrap an MCP transport", exc_info=True)
                return inner

        return wrapper

    @staticmethod
    def http_transport_created(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        """A streamable HTTP transport object: the transport being entered reads its session id from it."""
        wrapped(*args, **kwargs)
        try:
            found = extract.current_transport.get()
            if found is not None and found.session_id is None:
                found.session_id = functools.partial(getattr, instance, "session_id", None)
        except Exception:
            logger.debug("failed to follow an MCP transport's session id", exc_info=True)

    def send_request(self, inject: bool) -> Wrapper:
        async def wrapper(
            wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
        ) -> Any:
            scope = self._start_client(instance, args, kwargs) if self.telemetry.enabled else None
            if scope is None:
                return await wrapped(*args, **kwargs)
            token = scope.activate()
            try:
                if inject:
                    args = self._injected(scope, args, kwargs)
                result = await wrapped(*args, **kwargs)
            except BaseException as error:
                self._read(extract.error, scope, error)
                scope.finish(error)
                raise
            finally:
                scope.deactivate(token)
            self._read_result(instance, scope, result)
            scope.finish()
            return result

        return wrapper

    def _start_client(self, session: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> LiveStep | None:
        try:
            request = args[0] if args else kwargs["request"]
            record = extract.client_request(request, self.telemetry.captures_content)
            known_transport, version = self._sessions.get(session, (None, None))
            found = known_transport or extract.current_transport.get()
            extract.add_transport(record, found)
            request_id = getattr(session, "_request_id", None)  # 1.x: the id this request will get
            if isinstance(request_id, int):
                record.request_id = str(request_id)
            version = version or getattr(session, "protocol_version", None)
            if record.protocol_version is None and isinstance(version, str):
                record.protocol_version = version
            if known_transport is None and found is not None:
                self._sessions[session] = (found, version if isinstance(version, str) else None)
            return self.telemetry.start_step(record)
        except Exception:
            logger.debug("failed to start telemetry for an MCP request", exc_info=True)
            return None

    @staticmethod
    def _injected(scope: LiveStep, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
        if not args:
            try:
                kwargs["request"] = extract.with_trace_context(kwargs["request"])
            except Exception:
                logger.debug("failed to put the trace context into an MCP request", exc_info=True)
            return args
        try:
            return (extract.with_trace_context(args[0]), *args[1:])
        except Exception:
            logger.debug("failed to put the trace context into an MCP request", exc_info=True)
            return args

    def _read_result(self, session: Any, scope: LiveStep, result: Any) -> None:
        try:
            request = _request(scope)
            extract.result(request, result, self.telemetry.captures_content)
            known_transport, _ = self._sessions.get(session, (None, None))
            if request.method == "initialize":
                self._sessions[session] = (known_transport, extract.protocol_version(result))
            if request.session_id is None:  # streamable HTTP: the server names the session in its first answer
                extract.add_session_id(request, known_transport)
        except Exception:
            logger.debug("failed to read an MCP result", exc_info=True)

    @staticmethod
    def _read(reader: Callable[[Any, Any], None], scope: LiveStep, value: Any) -> None:
        try:
            reader(_request(scope), value)
        except Exception:
            logger.debug("failed to read an MCP outcome", exc_info=True)

    def sdk_client_span(
        self, wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """mcp 2: inside our client request, the SDK's own client span would be a second one for the same request;
        keep ours current instead (the SDK injects it), and take the request id the SDK picked."""
        scope = current_request()
        if scope is None or not isinstance(scope.step, McpRequest) or scope.step.server or not self.telemetry.enabled:
            return wrapped(*args, **kwargs)
        try:
            attributes = kwargs.get("attributes") or {}
            request_id = attributes.get(attr.JSONRPC_REQUEST_ID)
            if request_id is not None and scope.step.request_id is None:
                scope.step.request_id = str(request_id)  # its span (or the tool call it joined) reports it at its end
        except Exception:
            logger.debug("failed to read the MCP SDK's span attributes", exc_info=True)
        return nullcontext(trace.NonRecordingSpan(trace.get_current_span().get_span_context()))

    # --- server (mcp 2.x: the SDK's own span)

    async def sdk_server_span(
        self, wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """mcp 2: the SDK traces each request its server receives. Its span gets what ours say on mcp 1.x servers
        (transport, session, client address), and the request is recorded in `mcp.server.operation.duration`."""
        record = self._sdk_server_request(args, kwargs) if self.telemetry.enabled else None
        if record is None:
            return await wrapped(*args, **kwargs)
        call_next = args[1] if len(args) > 1 else kwargs["call_next"]
        telemetry = self.telemetry

        async def traced_next(context: Any) -> Any:  # called with the SDK's span current
            scope = None
            try:
                scope = telemetry.start_step(record, adopted=trace.get_current_span())
            except Exception:
                logger.debug("failed to start telemetry for a received MCP request", exc_info=True)
            if scope is None:
                return await call_next(context)
            try:
                result = await call_next(context)
            except BaseException as error:
                self._read(extract.sdk_server_error, scope, error)
                scope.finish(error)
                raise
            self._read(extract.error_response, scope, result)
            scope.finish()
            return result

        if len(args) > 1:
            return await wrapped(args[0], traced_next, *args[2:], **kwargs)
        return await wrapped(*args, **{**kwargs, "call_next": traced_next})

    @staticmethod
    def _sdk_server_request(args: tuple[Any, ...], kwargs: dict[str, Any]) -> McpRequest | None:
        try:
            if len(args) < 2 and "call_next" not in kwargs:
                return None
            return extract.sdk_server_request(args[0] if args else kwargs["ctx"])
        except Exception:
            logger.debug("failed to read a received MCP request", exc_info=True)
            return None

    # --- server (mcp 1.x)

    async def handle_request(
        self, wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        scope = self._start_server(args, kwargs) if self.telemetry.enabled else None
        if scope is None:
            return await wrapped(*args, **kwargs)
        token = scope.activate()
        try:
            return await wrapped(*args, **kwargs)
        except BaseException as error:
            scope.finish(error)
            raise
        finally:
            scope.deactivate(token)
            scope.finish()

    def _start_server(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> LiveStep | None:
        try:
            message, request, session = (*args, None, None, None)[:3]
            message = kwargs.get("message", message)
            request = kwargs.get("req", request)
            session = kwargs.get("session", session)
            metadata = getattr(message, "message_metadata", None)
            record = extract.server_request(
                request,
                getattr(message, "request_id", None),
                session,
                getattr(metadata, "request_context", None),
            )
            carrier = extract.carrier(getattr(message, "request_meta", None))
            return self.telemetry.start_step(record, carrier or None)
        except Exception:
            logger.debug("failed to start telemetry for a received MCP request", exc_info=True)
            return None

    async def respond(
        self, wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        scope = current_request()
        if scope is not None and scope.span is not None and isinstance(scope.step, McpRequest) and scope.step.server:
            self._read(extract.error_response, scope, args[0] if args else kwargs.get("response"))
        return await wrapped(*args, **kwargs)


def _request(scope: LiveStep) -> McpRequest:
    """The record of an MCP request's scope."""
    request = scope.step
    assert isinstance(request, McpRequest)
    return request
