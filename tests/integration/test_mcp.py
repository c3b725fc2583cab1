"""MCP in process: a real `mcp` client session and server over memory streams, traced by the instrumentor.

On mcp 1.x both sides are ours; mcp 2 traces its servers itself (with the global tracer provider, which these
tests leave alone), so there only the client side is checked.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib import metadata
from typing import Any

import pytest
import wrapt
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.trace import SpanKind, StatusCode

from tests.conftest import Captured
from tests.kotaemon_standin import use
from tests.support.e2e import APPS

pytest.importorskip("mcp")
use()

from kotaemon.agents import BaseTool  # noqa: E402

MCP_2 = int(metadata.version("mcp").split(".")[0]) >= 2
if MCP_2:
    from mcp.client.client import Client
else:
    from mcp.shared.memory import create_connected_server_and_client_session

only_mcp_1 = pytest.mark.skipif(MCP_2, reason="mcp 2 traces its servers itself")


def make_server() -> Any:
    """The test server app's server (add, search, fail...), in this process."""
    spec = importlib.util.spec_from_file_location("mcp_test_server", APPS / "mcp_server.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.server


@asynccontextmanager
async def connected() -> AsyncIterator[Any]:
    """A client on an in-process server: a ClientSession (mcp 1) or a Client (mcp 2), initialized."""
    server = make_server()
    if MCP_2:
        async with Client(server) as client:
            yield client
    else:
        async with create_connected_server_and_client_session(server._mcp_server) as session:
            yield session


async def call(name: str, arguments: dict[str, Any]) -> Any:
    async with connected() as client:
        return await client.call_tool(name, arguments)


def result_text(result: Any) -> str:
    return "".join(part.text for part in result.content)


def failed(result: Any) -> bool:
    return bool(getattr(result, "isError", None) or getattr(result, "is_error", False))


class MemoryMCPTool(BaseTool):
    """A Kotaemon tool calling an MCP tool from `asyncio.run`, as `MCPTool` does."""

    name: str = "add"
    description: str = "Adds two numbers over MCP"
    mcp_tool_name: str = "add"

    def _run_tool(self, *args: Any, **kwargs: Any) -> str:
        result = asyncio.run(call(self.mcp_tool_name, json.loads(args[0]) if args else kwargs))
        return f"MCP Tool Error: {result.content}" if failed(result) else result_text(result)


def by_name(captured: Captured, name: str, kind: SpanKind | None = None) -> Any:
    found = [s for s in captured.spans() if s.name == name and (kind is None or s.kind == kind)]
    assert len(found) == 1, [s.name for s in captured.spans()]
    return found[0]


def test_tool_call_span_follows_the_conventions(instrument: Callable[..., Captured]) -> None:
    captured = instrument()
    result = asyncio.run(call("add", {"a": 2, "b": 3}))
    assert result_text(result) == "5"
    span = by_name(captured, "tools/call add", SpanKind.CLIENT)
    attributes = dict(span.attributes or {})
    assert attributes["mcp.method.name"] == "tools/call"
    assert attributes["gen_ai.operation.name"] == "execute_tool"
    assert attributes["gen_ai.tool.name"] == "add"
    if not MCP_2:  # mcp 2 calls an in-process server directly, without JSON-RPC ids (its transports have them)
        assert attributes["jsonrpc.request.id"].isdigit()
    assert "gen_ai.tool.call.arguments" not in attributes  # content is off by default
    client_names = sorted(s.name for s in captured.spans() if s.kind == SpanKind.CLIENT)
    assert "tools/call add" in client_names
    assert not [s for s in captured.spans() if s.name.startswith("MCP send")]  # mcp 2's own span is replaced


@only_mcp_1
def test_server_span_continues_the_client_span(instrument: Callable[..., Captured]) -> None:
    captured = instrument()
    asyncio.run(call("add", {"a": 2, "b": 3}))
    client = by_name(captured, "tools/call add", SpanKind.CLIENT)
    server = by_name(captured, "tools/call add", SpanKind.SERVER)
    assert server.parent.span_id == client.context.span_id
    assert server.context.trace_id == client.context.trace_id
    assert server.attributes["jsonrpc.request.id"] == client.attributes["jsonrpc.request.id"]


def test_a_tool_steps_mcp_call_is_merged_into_it(instrument: Callable[..., Captured]) -> None:
    captured = instrument()
    assert MemoryMCPTool().run('{"a": 2, "b": 3}') == "5"
    tool = by_name(captured, "execute_tool add")
    attributes = dict(tool.attributes or {})
    assert attributes["mcp.method.name"] == "tools/call"
    assert attributes["gen_ai.tool.name"] == "add"
    assert not [s for s in captured.spans() if s.name == "tools/call add" and s.kind == SpanKind.CLIENT]
    session_requests = [s for s in captured.spans() if s.kind == SpanKind.CLIENT]  # initialize, tools/list...
    assert session_requests
    assert {s.parent.span_id for s in session_requests} == {tool.context.span_id}
    if not MCP_2:
        server = by_name(captured, "tools/call add", SpanKind.SERVER)
        assert server.parent.span_id == tool.context.span_id


def test_a_failed_mcp_tool_marks_the_tool_step(instrument: Callable[..., Captured]) -> None:
    captured = instrument()
    tool = MemoryMCPTool(name="fail", mcp_tool_name="fail")
    assert tool.run('{"reason": "no"}').startswith("MCP Tool Error")
    span = by_name(captured, "execute_tool fail")
    assert span.status.status_code == StatusCode.ERROR
    assert span.attributes["error.type"] == "tool_error"


def test_tool_arguments_and_result_only_when_content_is_captured(instrument: Callable[..., Captured]) -> None:
    captured = instrument(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="span_only")
    asyncio.run(call("add", {"a": 2, "b": 3}))
    attributes = dict(by_name(captured, "tools/call add", SpanKind.CLIENT).attributes or {})
    assert attributes["gen_ai.tool.call.arguments"] == '{"a":2,"b":3}'
    assert "5" in attributes["gen_ai.tool.call.result"]


def test_suppressed_calls_are_not_traced(instrument: Callable[..., Captured]) -> None:
    captured = instrument()
    with suppress_instrumentation():
        assert result_text(asyncio.run(call("add", {"a": 1, "b": 1}))) == "2"
    assert not captured.spans()


def test_uninstrument_removes_every_wrapper(instrument: Callable[..., Captured]) -> None:
    from opentelemetry_instrumentation_kotaemon import KotaemonInstrumentor

    captured = instrument()
    if MCP_2:
        from mcp.client.session import ClientSession as owner
    else:
        from mcp.shared.session import BaseSession as owner
    assert isinstance(owner.__dict__["send_request"], wrapt.FunctionWrapper)
    KotaemonInstrumentor().uninstrument()
    assert not isinstance(owner.__dict__["send_request"], wrapt.FunctionWrapper)
    asyncio.run(call("add", {"a": 1, "b": 1}))
    assert not captured.spans()
