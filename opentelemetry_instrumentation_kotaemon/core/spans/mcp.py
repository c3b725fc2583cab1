"""MCP request spans (the MCP part of the GenAI conventions): `{mcp.method.name} {target}`, CLIENT for a request this
process sends, SERVER for one it receives; what was asked, over what, and how it ended; the MCP duration metrics.

A `tools/call` sent right inside a traced tool call is that tool call: it joins the tool's `execute_tool` span instead
of opening a second one, as the MCP conventions ask of instrumentations that see the outer tool span.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from opentelemetry.trace import SpanKind

from ... import attributes as attr
from ..instruments import Instruments
from .step import Attributes, Step
from .tool import ToolStep

TOOLS_CALL = "tools/call"


@dataclass(slots=True, kw_only=True)
class McpRequest(Step):
    """One MCP request, filled by the integration: what was asked, over what, and how it ended.

    Never holds the server's command line or environment; `arguments` and `result` are content. A failure the
    protocol reported (a JSON-RPC error, a tool result flagged `isError`) is `error_type` with its message in
    `failure`, whether or not the client library raised it.
    """

    KIND: ClassVar[str] = "mcp"
    """Never exported: MCP spans carry `mcp.method.name` instead of `kotaemon.span.kind`."""
    NESTS: ClassVar[bool] = False
    FAILURE_ATTRIBUTE: ClassVar[str | None] = None

    name: str = ""
    method: str
    server: bool = False
    """Received by this process (a SERVER span), not sent by it."""
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
    """Content: the tool call's arguments."""
    # outcome
    result: Any = None
    """Content: the tool call's result."""
    error_code: str | None = None
    """The JSON-RPC error code of a failed request."""
    _announced: tuple[str | None, str | None] = field(default=(None, None), init=False, repr=False)
    """The request and session ids its span started with: ids learned later are set when it ends."""

    @property
    def span_kind(self) -> SpanKind:
        return SpanKind.SERVER if self.server else SpanKind.CLIENT

    @property
    def carries_context(self) -> bool:
        return not self.server

    def span_name(self) -> str:
        target = self.tool_name if self.method == TOOLS_CALL else self.prompt_name
        return f"{self.method} {target}" if target else self.method

    def identity(self) -> Attributes:
        """The low-cardinality attributes, shared by spans and metrics."""
        values: Attributes = {attr.MCP_METHOD_NAME: self.method}
        if self.method == TOOLS_CALL:
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

    def start_attributes(self) -> Attributes:
        """Every attribute known when the request starts."""
        self._announced = (self.request_id, self.session_id)
        return self.span_attributes()

    def span_attributes(self) -> Attributes:
        """Every attribute of the request known so far but its outcome."""
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

    def end_attributes(self) -> Attributes:
        """The ids learned after the start (mcp 2 picks the request id inside the call; streamable HTTP names the
        session in its first answer), and the JSON-RPC code of an error response."""
        values: Attributes = {}
        if self.request_id != self._announced[0] and self.request_id is not None:
            values[attr.JSONRPC_REQUEST_ID] = self.request_id
        if self.session_id != self._announced[1] and self.session_id is not None:
            values[attr.MCP_SESSION_ID] = self.session_id
        values.update(self.outcome_attributes())
        return values

    def outcome_attributes(self) -> Attributes:
        """What the response said, when it was an error: its JSON-RPC code."""
        return {attr.RPC_RESPONSE_STATUS_CODE: self.error_code} if self.error_code is not None else {}

    def start_content(self) -> Attributes:
        return {attr.GEN_AI_TOOL_CALL_ARGUMENTS: self.arguments} if self.arguments is not None else {}

    def end_content(self) -> Attributes:
        if self.result is None or self.error_type is not None:
            return {}
        return {attr.GEN_AI_TOOL_CALL_RESULT: self.result}

    # --- how it ended

    def error_name(self, error: BaseException | None) -> str | None:
        if self.error_type is not None:
            return self.error_type
        return Step.error_name(self, error)

    def reported(self, error: BaseException | None) -> bool:
        return self.error_type is not None

    def join(self, outer: Step) -> bool:
        """A `tools/call` sent from inside a tool call is that tool call: the tool's span reports it."""
        if self.server or self.method != TOOLS_CALL or not isinstance(outer, ToolStep) or outer.mcp is not None:
            return False
        outer.mcp = self
        return True

    def report_to(self, outer: Step, error_name: str | None) -> None:
        """Hand a failure to the tool call this request joined (which reports it when it ends)."""
        if error_name is None:
            return
        outer.error_type = error_name
        if outer.failure is None:
            outer.failure = self.failure or f"MCP {self.method} failed: {error_name}"

    # --- metrics

    def record_metrics(self, instruments: Instruments, duration: float, error_name: str | None) -> None:
        histogram = instruments.mcp_server_duration if self.server else instruments.mcp_client_duration
        histogram.record(duration, self.metric_labels(error_name))

    def metric_labels(self, error_name: str | None) -> Attributes:
        labels = self.identity()
        if error_name is not None:
            labels[attr.ERROR_TYPE] = error_name
        if self.error_code is not None:
            labels[attr.RPC_RESPONSE_STATUS_CODE] = self.error_code
        return labels
