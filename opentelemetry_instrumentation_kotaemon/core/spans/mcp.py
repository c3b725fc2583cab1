"""MCP requests (the MCP part of the GenAI conventions): what a client sent or a server received, over what, and
how it ended; the span name, attributes and metric labels of each. `core.mcp` runs their lifecycle."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ... import attributes as attr

TOOLS_CALL = "tools/call"


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
        target = self.tool_name if self.method == TOOLS_CALL else self.prompt_name
        return f"{self.method} {target}" if target else self.method

    def identity(self) -> dict[str, Any]:
        """The low-cardinality attributes, shared by spans and metrics."""
        values: dict[str, Any] = {attr.MCP_METHOD_NAME: self.method}
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

    def span_attributes(self) -> dict[str, Any]:
        """Every attribute known when the request starts."""
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

    def outcome_attributes(self) -> dict[str, Any]:
        """What the response said, when it was an error: its JSON-RPC code."""
        return {attr.RPC_RESPONSE_STATUS_CODE: self.error_code} if self.error_code is not None else {}

    def metric_labels(self, error_name: str | None) -> dict[str, Any]:
        labels = self.identity()
        if error_name is not None:
            labels[attr.ERROR_TYPE] = error_name
        if self.error_code is not None:
            labels[attr.RPC_RESPONSE_STATUS_CODE] = self.error_code
        return labels
