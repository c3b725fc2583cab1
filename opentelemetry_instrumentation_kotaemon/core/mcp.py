"""The lifecycle of MCP requests: a client span per request sent (or its facts merged into the tool call that made
it), a server span per request received that continues the caller's trace from the request's `params._meta`, and
the MCP duration metrics."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from .. import attributes as attr
from .spans import ToolStep
from .spans.mcp import TOOLS_CALL, McpRequest
from .telemetry import _ACTIVE_STEP_KEY, LiveSpan, LiveStep, Telemetry, _suppressed, error_type

logger = logging.getLogger(__name__)

_CLIENT_KEY = otel_context.create_key("kotaemon-mcp-client-request")
_SERVER_KEY = otel_context.create_key("kotaemon-mcp-server-request")


class LiveMcpRequest(LiveSpan):
    """The live telemetry of one MCP request; `step` is the tool step it was merged into, if any."""

    __slots__ = ("request", "server", "step")

    def __init__(
        self,
        telemetry: Telemetry,
        request: McpRequest,
        span: trace.Span | None,
        context: otel_context.Context,
        server: bool,
        step: LiveStep | None = None,
    ) -> None:
        super().__init__(telemetry, span, context)
        self.request = request
        self.server = server
        self.step = step

    def _finish(self, error: BaseException | None, abandoned: bool) -> None:
        _finish(self, error)


def start_client_request(telemetry: Telemetry, request: McpRequest) -> LiveMcpRequest | None:
    """Open the telemetry of a request this process sends; None when suppressed.

    A `tools/call` made right inside a traced tool call (a Kotaemon `MCPTool`, a LangChain MCP tool) is that tool
    call: its MCP attributes go on the tool's `execute_tool` span instead of a second span, as the MCP conventions
    ask of instrumentations that see the outer tool span.
    """
    current = otel_context.get_current()
    if _suppressed(current):
        return None
    step = _tool_step(current) if request.method == TOOLS_CALL else None
    if step is not None:
        tool = step.step
        assert isinstance(tool, ToolStep)
        tool.mcp = request  # the tool span reports the request's attributes (one MCP request per tool call)
        scope = LiveMcpRequest(telemetry, request, None, current, server=False, step=step)
        scope.context = otel_context.set_value(_CLIENT_KEY, scope, current)
        return scope
    span = telemetry.tracer.start_span(request.span_name, kind=SpanKind.CLIENT, attributes=request.span_attributes())
    scope = LiveMcpRequest(telemetry, request, span, current, server=False)
    scope.context = otel_context.set_value(_CLIENT_KEY, scope, trace.set_span_in_context(span, current))
    if span.is_recording():
        values = telemetry.context_attributes(current)
        if request.arguments is not None and telemetry.content.on_span:
            values[attr.GEN_AI_TOOL_CALL_ARGUMENTS] = telemetry.content.to_json(request.arguments)
        span.set_attributes(values)
    return scope


def start_server_request(
    telemetry: Telemetry, request: McpRequest, carrier: Mapping[str, Any] | None
) -> LiveMcpRequest | None:
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
    scope = LiveMcpRequest(telemetry, request, span, parent, server=True)
    scope.context = otel_context.set_value(_SERVER_KEY, scope, trace.set_span_in_context(span, parent))
    if span.is_recording() and request.arguments is not None and telemetry.content.on_span:
        span.set_attribute(attr.GEN_AI_TOOL_CALL_ARGUMENTS, telemetry.content.to_json(request.arguments))
    return scope


def current_client_request() -> LiveMcpRequest | None:
    """The client request whose telemetry is current (its span, or the tool step it was merged into)."""
    scope = otel_context.get_value(_CLIENT_KEY)
    return scope if isinstance(scope, LiveMcpRequest) and not scope.finished else None


def current_server_request() -> LiveMcpRequest | None:
    """The received request being handled in this context."""
    scope = otel_context.get_value(_SERVER_KEY)
    return scope if isinstance(scope, LiveMcpRequest) and not scope.finished else None


def _tool_step(current: otel_context.Context) -> LiveStep | None:
    step = current.get(_ACTIVE_STEP_KEY)
    if (
        isinstance(step, LiveStep)
        and isinstance(step.step, ToolStep)
        and not step.finished
        and step.span is not None
        and trace.get_current_span(current) is step.span
        and step.step.mcp is None
    ):
        return step
    return None


def _finish(scope: LiveMcpRequest, error: BaseException | None) -> None:
    telemetry = scope.telemetry
    request = scope.request
    try:
        error_name = request.error_type or (error_type(error) if error is not None else None)
        instruments = telemetry.instruments
        histogram = instruments.mcp_server_duration if scope.server else instruments.mcp_client_duration
        histogram.record(time.perf_counter() - scope.started, request.metric_labels(error_name))
        if scope.step is not None:
            _merge_outcome(scope.step, request, error_name)
            return
        span = scope.span
        if span is None or not span.is_recording():
            return
        values = request.outcome_attributes()
        if request.result is not None and error_name is None and telemetry.content.on_span:
            values[attr.GEN_AI_TOOL_CALL_RESULT] = telemetry.content.to_json(request.result)
        span.set_attributes(values)
        if error is not None and request.error_type is None:
            telemetry.record_error(span, error, error_name)
        elif error_name is not None:
            span.set_attribute(attr.ERROR_TYPE, error_name)
            message = telemetry.content.clean(request.error_message) if request.error_message else None
            span.set_status(Status(StatusCode.ERROR, message))
    except Exception:
        logger.debug("failed to record an MCP request", exc_info=True)
    finally:
        if scope.span is not None:
            scope.span.end()


def _merge_outcome(step: LiveStep, request: McpRequest, error_name: str | None) -> None:
    """Hand how the request ended to the tool call it was merged into (which reports it when it ends)."""
    if error_name is None:
        return
    step.step.error_type = error_name
    if step.step.failure is None:
        step.step.failure = request.error_message or f"MCP {request.method} failed: {error_name}"
