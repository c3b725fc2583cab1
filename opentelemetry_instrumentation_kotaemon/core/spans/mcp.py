"""MCP requests: a client span per request (or its facts merged into the tool step that made it), a server span
that continues the caller's trace from the request's `params._meta`, and the MCP duration metrics."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from ... import attributes as attr
from ..telemetry import _ACTIVE_STEP_KEY, Scope, StepScope, Telemetry, _suppressed, error_type

logger = logging.getLogger(__name__)

_CLIENT_KEY = otel_context.create_key("kotaemon-mcp-client-request")
_SERVER_KEY = otel_context.create_key("kotaemon-mcp-server-request")
_TOOLS_CALL = "tools/call"
_PROMPTS_GET = "prompts/get"


@dataclass(slots=True)
class McpRequest:
    """One MCP request, filled by the integration: what was asked, over what, and how it ended.

    Never holds the server's command line or environment; `arguments` and `result` are content.
    """

    method: str
    request_id: str | None = None
    tool_name: str | None = None
    prompt_name: str | None = None
    resource_uri: str | None = None
    session_id: str | None = None
    protocol_version: str | None = None
    transport: str | None = None
    """`network.transport`: pipe for stdio, tcp for SSE and streamable HTTP."""
    protocol_name: str | None = None
    server_address: str | None = None
    server_port: int | None = None
    client_address: str | None = None
    client_port: int | None = None
    arguments: Any = None
    # outcome
    result: Any = None
    error_type: str | None = None
    """A JSON-RPC error code, or `tool_error` for a tool result flagged `isError`."""
    error_code: str | None = None
    error_message: str | None = None

    @property
    def span_name(self) -> str:
        target = self.tool_name if self.method == _TOOLS_CALL else self.prompt_name
        return f"{self.method} {target}" if target else self.method

    def identity(self) -> dict[str, Any]:
        """The low-cardinality attributes, shared by spans and metrics."""
        values: dict[str, Any] = {attr.MCP_METHOD_NAME: self.method}
        if self.method == _TOOLS_CALL:
            values[attr.GEN_AI_OPERATION_NAME] = attr.OPERATION_EXECUTE_TOOL
            if self.tool_name:
                values[attr.GEN_AI_TOOL_NAME] = self.tool_name
        elif self.prompt_name:
            values[attr.GEN_AI_PROMPT_NAME] = self.prompt_name
        for key, value in (
            (attr.MCP_PROTOCOL_VERSION, self.protocol_version),
            (attr.NETWORK_TRANSPORT, self.transport),
            (attr.NETWORK_PROTOCOL_NAME, self.protocol_name),
            (attr.SERVER_ADDRESS, self.server_address),
            (attr.SERVER_PORT, self.server_port if self.server_address else None),
        ):
            if value is not None:
                values[key] = value
        return values

    def span_attributes(self) -> dict[str, Any]:
        values = self.identity()
        for key, value in (
            (attr.JSONRPC_REQUEST_ID, self.request_id),
            (attr.MCP_SESSION_ID, self.session_id),
            (attr.MCP_RESOURCE_URI, self.resource_uri),
            (attr.CLIENT_ADDRESS, self.client_address),
            (attr.CLIENT_PORT, self.client_port if self.client_address else None),
        ):
            if value is not None:
                values[key] = value
        return values


class McpScope(Scope):
    """The live telemetry of one MCP request; `step` is the tool step it was merged into, if any."""

    __slots__ = ("request", "server", "step")

    def __init__(
        self,
        telemetry: Telemetry,
        request: McpRequest,
        span: trace.Span | None,
        context: otel_context.Context,
        server: bool,
        step: StepScope | None = None,
    ) -> None:
        super().__init__(telemetry, span, context)
        self.request = request
        self.server = server
        self.step = step

    def _finish(self, error: BaseException | None, abandoned: bool) -> None:
        _finish(self, error)


def start_client_request(telemetry: Telemetry, request: McpRequest) -> McpScope | None:
    """Open the telemetry of a request this process sends; None when suppressed.

    A `tools/call` made right inside a traced tool call (a Kotaemon `MCPTool`, a LangChain MCP tool) is that tool
    call: its MCP attributes go on the tool's `execute_tool` span instead of a second span, as the MCP conventions
    ask of instrumentations that see the outer tool span.
    """
    current = otel_context.get_current()
    if _suppressed(current):
        return None
    step = _tool_step(current) if request.method == _TOOLS_CALL else None
    if step is not None and step.span is not None:
        step.step.result_attributes[attr.MCP_METHOD_NAME] = request.method  # one MCP call per tool step
        scope = McpScope(telemetry, request, None, current, server=False, step=step)
        scope.context = otel_context.set_value(_CLIENT_KEY, scope, current)
        if step.span.is_recording():
            step.span.set_attributes(request.span_attributes())
        return scope
    span = telemetry.tracer.start_span(request.span_name, kind=SpanKind.CLIENT, attributes=request.span_attributes())
    scope = McpScope(telemetry, request, span, current, server=False)
    scope.context = otel_context.set_value(_CLIENT_KEY, scope, trace.set_span_in_context(span, current))
    if span.is_recording():
        values = telemetry._baggage_attributes(current)
        if request.arguments is not None and telemetry.content.mode.on_span:
            values[attr.GEN_AI_TOOL_CALL_ARGUMENTS] = telemetry.content.to_json(request.arguments)
        span.set_attributes(values)
    return scope


def start_server_request(
    telemetry: Telemetry, request: McpRequest, carrier: Mapping[str, Any] | None
) -> McpScope | None:
    """Open the server span of a request this process received, continuing the trace in its `params._meta`.

    The context the request carries is the parent; the context current here (a transport's own span) is linked.
    """
    current = otel_context.get_current()
    if _suppressed(current):
        return None
    parent = current
    links: list[Link] = []
    if carrier:
        remote = propagate.extract(carrier)
        if trace.get_current_span(remote).get_span_context().is_valid:
            parent = remote
            ambient = trace.get_current_span(current).get_span_context()
            if ambient.is_valid:
                links.append(Link(ambient))
    span = telemetry.tracer.start_span(
        request.span_name, context=parent, kind=SpanKind.SERVER, attributes=request.span_attributes(), links=links
    )
    scope = McpScope(telemetry, request, span, parent, server=True)
    scope.context = otel_context.set_value(_SERVER_KEY, scope, trace.set_span_in_context(span, parent))
    if span.is_recording() and request.arguments is not None and telemetry.content.mode.on_span:
        span.set_attribute(attr.GEN_AI_TOOL_CALL_ARGUMENTS, telemetry.content.to_json(request.arguments))
    return scope


def current_client_request() -> McpScope | None:
    """The client request whose telemetry is current (its span, or the tool step it was merged into)."""
    scope = otel_context.get_value(_CLIENT_KEY)
    return scope if isinstance(scope, McpScope) and not scope.finished else None


def current_server_request() -> McpScope | None:
    """The received request being handled in this context."""
    scope = otel_context.get_value(_SERVER_KEY)
    return scope if isinstance(scope, McpScope) and not scope.finished else None


def _tool_step(current: otel_context.Context) -> StepScope | None:
    step = current.get(_ACTIVE_STEP_KEY)
    if (
        isinstance(step, StepScope)
        and step.step.kind == attr.KIND_TOOL
        and not step.finished
        and step.span is not None
        and trace.get_current_span(current) is step.span
        and attr.MCP_METHOD_NAME not in step.step.result_attributes
    ):
        return step
    return None


def _finish(scope: McpScope, error: BaseException | None) -> None:
    telemetry = scope.telemetry
    request = scope.request
    try:
        error_name = request.error_type or (error_type(error) if error is not None else None)
        labels = request.identity()
        if error_name is not None:
            labels[attr.ERROR_TYPE] = error_name
        if request.error_code is not None:
            labels[attr.RPC_RESPONSE_STATUS_CODE] = request.error_code
        instruments = telemetry.instruments
        histogram = instruments.mcp_server_duration if scope.server else instruments.mcp_client_duration
        histogram.record(time.perf_counter() - scope.started, labels)
        if scope.step is not None:
            _merge_outcome(scope.step, request, error_name)
            return
        span = scope.span
        if span is None or not span.is_recording():
            return
        values: dict[str, Any] = {}
        if request.error_code is not None:
            values[attr.RPC_RESPONSE_STATUS_CODE] = request.error_code
        if request.result is not None and error_name is None and telemetry.content.mode.on_span:
            values[attr.GEN_AI_TOOL_CALL_RESULT] = telemetry.content.to_json(request.result)
        span.set_attributes(values)
        if error is not None and request.error_type is None:
            telemetry._record_error(span, error, error_name)
        elif error_name is not None:
            span.set_attribute(attr.ERROR_TYPE, error_name)
            message = telemetry.content.clean(request.error_message) if request.error_message else None
            span.set_status(Status(StatusCode.ERROR, message))
    except Exception:
        logger.debug("failed to record an MCP request", exc_info=True)
    finally:
        if scope.span is not None:
            scope.span.end()


def _merge_outcome(step: StepScope, request: McpRequest, error_name: str | None) -> None:
    """Hand how the request ended to the tool step it was merged into (which reports it when it ends)."""
    if error_name is None:
        return
    step.step.error_type = error_name
    if step.step.failure is None:
        step.step.failure = request.error_message or f"MCP {request.method} failed: {error_name}"
    if request.error_code is not None and step.span is not None and step.span.is_recording():
        step.span.set_attribute(attr.RPC_RESPONSE_STATUS_CODE, request.error_code)
