"""MCP in process: a real `mcp` client session and server over memory streams, traced by the instrumentor.

On mcp 1.x both sides are ours; mcp 2 traces its servers itself (with the global tracer provider, which these
tests leave alone), so there only the client side is checked.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import re
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


# --- what we add to an MCP request, through a strict gate (mcp 1.x: mcp 2 adds the trace context itself)

_META_KEY = re.compile(
    r"(?:[A-Za-z](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*/)?"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)?"
)
"""A `_meta` key as the MCP specification allows it: an optional prefix (`labels.separated.by.dots/`), then a name."""
_PARAMS = {
    "initialize": {"protocolVersion", "capabilities", "clientInfo"},
    "notifications/initialized": set(),
    "tools/call": {"name", "arguments"},
    "tools/list": {"cursor"},
}
"""The params fields the protocol defines for the methods the strict gate lets through (and `_meta`, for all)."""
_CONTEXT_KEYS = ("traceparent", "tracestate", "baggage")


def refusal(payload: dict[str, Any]) -> str | None:
    """Why a strict server refuses a client message: a method it does not serve, a params field the protocol does not
    define, a `_meta` key the protocol's key format does not allow; None when it takes it."""
    known = _PARAMS.get(payload.get("method", ""))
    if known is None:
        return f"method not served: {payload.get('method')}"
    params = payload.get("params") or {}
    unknown = sorted(set(params) - known - {"_meta"})
    if unknown:
        return f"unknown params: {', '.join(unknown)}"
    bad = [key for key in params.get("_meta") or {} if not _META_KEY.fullmatch(key)]
    return f"invalid _meta keys: {', '.join(bad)}" if bad else None


@asynccontextmanager
async def strict_session(seen: list[dict[str, Any]]) -> AsyncIterator[Any]:
    """An initialized client session on the test server through a strict gate: each message the client sends is
    recorded as its JSON in `seen`; one the gate refuses (`refusal`) does not reach the server, and a request gets
    the JSON-RPC error -32602 instead."""
    import anyio
    from mcp.client.session import ClientSession
    from mcp.shared.memory import create_client_server_memory_streams
    from mcp.shared.message import SessionMessage
    from mcp.types import ErrorData, JSONRPCError, JSONRPCMessage

    server = make_server()._mcp_server
    async with create_client_server_memory_streams() as ((client_read, to_server), (server_read, server_write)):
        client_write, gate_read = anyio.create_memory_object_stream[Any](1)

        async def gate() -> None:
            async for message in gate_read:
                payload = message.message.model_dump(by_alias=True, mode="json", exclude_none=True)
                seen.append(payload)
                reason = refusal(payload)
                if reason is None:
                    await to_server.send(message)
                elif "id" in payload:
                    error = JSONRPCError(jsonrpc="2.0", id=payload["id"], error=ErrorData(code=-32602, message=reason))
                    await server_write.send(SessionMessage(JSONRPCMessage(error)))

        async with anyio.create_task_group() as tasks, client_write, gate_read:
            tasks.start_soon(lambda: server.run(server_read, server_write, server.create_initialization_options()))
            tasks.start_soon(gate)
            try:
                async with ClientSession(client_read, client_write) as session:
                    await session.initialize()
                    yield session
            finally:
                tasks.cancel_scope.cancel()


def test_the_strict_gate_refuses_what_the_protocol_does_not_define() -> None:
    assert refusal({"method": "tools/call", "params": {"name": "add", "arguments": {}}}) is None
    assert refusal({"method": "tools/call", "params": {"name": "add", "_meta": {"io.example/trace-id": "1"}}}) is None
    assert refusal({"method": "tools/call", "params": {"name": "add", "trace": "1"}}) == "unknown params: trace"
    assert refusal({"method": "tools/call", "params": {"name": "add", "_meta": {"-x": 1}}}) == "invalid _meta keys: -x"
    assert refusal({"method": "resources/list"}) == "method not served: resources/list"


@only_mcp_1
def test_mcp_requests_change_only_by_the_trace_context_in_meta(instrument: Callable[..., Captured]) -> None:
    """The only change to an MCP request is the trace context in `params._meta` (W3C `traceparent`, and `tracestate`
    and `baggage` when there are any): a strict server takes it, and the app's result is the same. The MCP client is
    asynchronous only (Kotaemon's `MCPTool` runs it in `asyncio.run`, as here)."""

    async def add(seen: list[dict[str, Any]]) -> Any:
        async with strict_session(seen) as session:
            return await session.call_tool("add", {"a": 2, "b": 3})

    bare_seen: list[dict[str, Any]] = []
    bare = asyncio.run(add(bare_seen))
    captured = instrument()
    traced_seen: list[dict[str, Any]] = []
    traced = asyncio.run(add(traced_seen))
    assert not failed(bare) and not failed(traced) and result_text(traced) == result_text(bare) == "5"

    def without_context(payload: dict[str, Any]) -> dict[str, Any]:
        """The message without the trace context (and without the params object only it needed)."""
        payload = dict(payload)
        params = dict(payload.pop("params", None) or {})
        meta = {k: v for k, v in (params.pop("_meta", None) or {}).items() if k not in _CONTEXT_KEYS}
        if meta:
            params["_meta"] = meta
        return {**payload, "params": params} if params else payload

    assert [without_context(payload) for payload in traced_seen] == bare_seen
    (tool_call,) = [payload for payload in traced_seen if payload["method"] == "tools/call"]
    span = by_name(captured, "tools/call add", SpanKind.CLIENT)
    assert tool_call["params"]["_meta"]["traceparent"].split("-")[1] == format(span.context.trace_id, "032x")
