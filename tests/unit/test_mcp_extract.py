"""Reading MCP requests and transports: the trace context goes into a copy of the request, nothing secret is kept."""

from __future__ import annotations

from importlib import metadata

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from opentelemetry_instrumentation_kotaemon.mcp import extract

types = pytest.importorskip("mcp.types")
MCP_2 = int(metadata.version("mcp").split(".")[0]) >= 2
only_mcp_1 = pytest.mark.skipif(MCP_2, reason="mcp 2 puts the trace context into requests itself")
TRACER = TracerProvider().get_tracer("test")


@only_mcp_1
def test_trace_context_goes_into_a_copy_of_the_request_and_keeps_its_meta() -> None:
    params = types.CallToolRequestParams(name="add", arguments={"a": 1}, _meta={"progressToken": 7})
    request = types.ClientRequest(types.CallToolRequest(method="tools/call", params=params))
    with TRACER.start_as_current_span("caller") as span:
        injected = extract.with_trace_context(request)
    wire = injected.model_dump(by_alias=True, mode="json", exclude_none=True)
    meta = wire["params"]["_meta"]
    assert meta["progressToken"] == 7
    assert meta["traceparent"].split("-")[2] == format(span.get_span_context().span_id, "016x")
    assert wire["params"]["arguments"] == {"a": 1}
    assert "traceparent" not in request.model_dump(by_alias=True, exclude_none=True)["params"]["_meta"]


@only_mcp_1
def test_trace_context_goes_into_a_request_without_params() -> None:
    request = types.ClientRequest(types.ListToolsRequest(method="tools/list"))
    with TRACER.start_as_current_span("caller"):
        wire = extract.with_trace_context(request).model_dump(by_alias=True, mode="json", exclude_none=True)
    assert set(wire["params"]) == {"_meta"} and "traceparent" in wire["params"]["_meta"]
    assert extract.carrier(types.RequestParams.Meta(**wire["params"]["_meta"]))["traceparent"]


@only_mcp_1
def test_no_current_span_leaves_the_request_alone() -> None:
    request = types.ClientRequest(types.ListToolsRequest(method="tools/list"))
    assert trace.get_current_span() is trace.INVALID_SPAN
    assert extract.with_trace_context(request) is request


def test_transports_keep_only_host_and_port() -> None:
    stdio = extract.transport("stdio", ("python server.py --token SECRET",), {"env": {"KEY": "SECRET"}})
    assert (stdio.transport, stdio.server_address, stdio.server_port) == ("pipe", None, None)
    sse = extract.transport("sse", (), {"url": "https://user:pw@mcp.example.com/sse?key=SECRET"})
    assert (sse.transport, sse.server_address, sse.server_port) == ("tcp", "mcp.example.com", 443)
    assert "SECRET" not in repr(sse) and "pw" not in repr(sse)


def test_tool_errors_and_json_rpc_errors() -> None:
    record = extract.client_request(
        types.CallToolRequest(method="tools/call", params=types.CallToolRequestParams(name="x")), False
    )
    extract.result(record, types.CallToolResult(content=[], isError=True), captures_content=True)
    assert record.error_type == "tool_error" and record.result is None
    record = extract.client_request(types.ListToolsRequest(method="tools/list"), False)
    extract.error_response(record, types.ErrorData(code=-32601, message="Method not found"))
    assert (record.error_type, record.error_code, record.failure) == ("-32601", "-32601", "Method not found")
