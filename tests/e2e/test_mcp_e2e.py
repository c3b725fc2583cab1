"""End to end: MCP clients and an MCP server, each under `opentelemetry-instrument`, exporting to one receiver.

The server (tests/apps/mcp_server.py: FastMCP on mcp 1.x, MCPServer on mcp 2) runs as the client's stdio
subprocess, or on its own over SSE or streamable HTTP. Clients (tests/apps/mcp_client_app.py): a plain
`ClientSession` making every kind of request, and a Kotaemon ReAct agent whose tools are `MCPTool`s, called from a
running event loop (so MCPTool runs the call on a worker thread under `asyncio.run`). Each run is compared with the
same run without instrumentation.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest

from tests.kotaemon_standin import environment as kotaemon_environment
from tests.kotaemon_standin.react_server import react_server
from tests.support.e2e import APPS, instrumented_environment, launch, run_instrumented
from tests.support.otlp_receiver import OtlpReceiver, Point, Span

pytest.importorskip("mcp")

INTERNAL, SERVER, CLIENT = 1, 2, 3
STATUS_ERROR = 2
ARG_SECRET = "tok-arg-SECRETe2e0123456789"
ENV_SECRET = "tok-env-SECRETe2e9876543210"
MCP_2 = int(metadata.version("mcp").split(".")[0]) >= 2
REQUESTS = [
    "initialize",
    "tools/list",
    "tools/call add",
    "tools/call search",
    "tools/call fail",
    "resources/list",
    "resources/read",
    "prompts/list",
    "prompts/get summarize",
]
kotaemon_needs_mcp_1 = pytest.mark.skipif(
    MCP_2, reason="Kotaemon's MCPTool reads CallToolResult.isError, which mcp 2 renamed (Kotaemon pins mcp 1.12.4)"
)


def secrets_env() -> dict[str, str]:
    return {"APP_MCP_TOKEN": ARG_SECRET, "APP_MCP_ENV_SECRET": ENV_SECRET}


def instrumented_server_env() -> dict[str, str]:
    """The client app launches its stdio server under opentelemetry-instrument too."""
    return {**secrets_env(), "APP_MCP_LAUNCHER": str(Path(sys.executable).with_name("opentelemetry-instrument"))}


def run_bare(*args: str, env: dict[str, str], app: str = "mcp_client_app.py") -> dict[str, object]:
    """The same app without instrumentation (nor an instrumented server); returns what it printed."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "APP_", "OPENAI_"))}
    result = subprocess.run(
        [sys.executable, str(APPS / app), *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def printed(result: subprocess.CompletedProcess[str]) -> dict[str, object]:
    return json.loads(result.stdout.splitlines()[-1])


def compared_run(
    receiver: OtlpReceiver,
    *args: str,
    bare_env: dict[str, str],
    env: dict[str, str],
    last_span: str,
    app: str = "mcp_client_app.py",
) -> Run:
    """The app run bare, then under `opentelemetry-instrument`, until the server has exported `last_span`."""
    bare = run_bare(*args, env=bare_env, app=app)
    receiver.clear()
    result = run_instrumented(app, *args, receiver=receiver, env=env)
    run = Run(receiver, printed(result), bare)
    run.wait_for("mcp-server", last_span)
    return run


@dataclass
class Run:
    receiver: OtlpReceiver
    output: dict[str, object]
    bare_output: dict[str, object]

    def spans(self, service: str) -> list[Span]:
        return [s for s in self.receiver.spans if s.resource.get("service.name") == service]

    def client(self, name: str) -> Span:
        (span,) = [s for s in self.spans("e2e-app") if s.name == name and s.kind == CLIENT]
        return span

    def server_child(self, parent: Span, name: str | None = None) -> Span:
        found = [s for s in self.spans("mcp-server") if s.parent_id == parent.span_id and s.kind == SERVER]
        found = [s for s in found if name is None or s.name == name]
        assert len(found) == 1, (parent.name, [s.name for s in found])
        return found[0]

    def wait_for(self, service: str, name: str) -> None:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if any(s.name == name for s in self.spans(service)):
                return
            self.receiver.wait_for_spans(len(self.receiver.spans) + 1, timeout=0.5)
        raise AssertionError(f"no {name} span from {service}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def network_server(transport: str) -> Iterator[tuple[str, OtlpReceiver]]:
    """The server on its own, over SSE or streamable HTTP (`http`), under opentelemetry-instrument; stopped (and
    flushed) at the end. Yields its URL and the receiver its telemetry goes to."""
    port = free_port()
    # its log goes to a file: a pipe nobody reads until the end fills up and blocks the server mid-request
    with OtlpReceiver() as receiver, tempfile.TemporaryFile("w+") as log:
        # metrics every second: the server runs on past the client runs whose calls it records
        env = instrumented_environment(
            receiver.endpoint,
            "",
            {"OTEL_SERVICE_NAME": "mcp-server", "OTEL_METRIC_EXPORT_INTERVAL": "1000", **secrets_env()},
        )
        command = launch("mcp_server.py", transport, str(port), "--token", ARG_SECRET)
        with subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, text=True) as server:
            try:
                deadline = time.monotonic() + 60
                while True:
                    assert server.poll() is None, log.seek(0) or log.read()
                    try:
                        socket.create_connection(("127.0.0.1", port), timeout=1).close()
                        break
                    except OSError:
                        assert time.monotonic() < deadline, f"the {transport} server did not start"
                        time.sleep(0.1)  # polling for the port, not timing anything
                yield f"http://127.0.0.1:{port}/{'sse' if transport == 'sse' else 'mcp'}", receiver
            finally:
                server.send_signal(signal.SIGINT)
                try:
                    server.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait()


@pytest.fixture(scope="module")
def sse_server() -> Iterator[tuple[str, OtlpReceiver]]:
    with network_server("sse") as served:
        yield served


@pytest.fixture(scope="module")
def http_server() -> Iterator[tuple[str, OtlpReceiver]]:
    with network_server("http") as served:
        yield served


@pytest.fixture(scope="module")
def plain_stdio() -> Iterator[Run]:
    with OtlpReceiver() as receiver:
        yield compared_run(
            receiver,
            "plain-stdio",
            bare_env=secrets_env(),
            env=instrumented_server_env(),
            last_span="prompts/get summarize",
        )


def plain_network_run(mode: str, served: tuple[str, OtlpReceiver]) -> Run:
    url, receiver = served
    return compared_run(receiver, mode, url, bare_env={}, env={}, last_span="prompts/get summarize")


@pytest.fixture(scope="module")
def plain_sse(sse_server: tuple[str, OtlpReceiver]) -> Run:
    return plain_network_run("plain-sse", sse_server)


@pytest.fixture(scope="module")
def plain_http(http_server: tuple[str, OtlpReceiver]) -> Run:
    return plain_network_run("plain-http", http_server)


TRANSPORTS = ["stdio", "sse", "http"]


def plain_run(request: pytest.FixtureRequest, transport: str) -> Run:
    run: Run = request.getfixturevalue(f"plain_{transport}")
    return run


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_plain_client_results_unchanged(transport: str, request: pytest.FixtureRequest) -> None:
    expected = {
        "added": "5",
        "failed": True,
        "found": "The answer to 'meaning of life' is 42.",
        "prompt": "Summarize: hello",
        "resource": "mode=test",
        "tools": ["add", "crash", "fail", "search", "weather"],
    }
    run = plain_run(request, transport)
    assert run.output == run.bare_output == expected


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_each_request_is_one_client_span_continued_by_the_server(
    transport: str, request: pytest.FixtureRequest
) -> None:
    run = plain_run(request, transport)
    clients = [s for s in run.spans("e2e-app") if s.kind == CLIENT]
    assert sorted(s.name for s in clients) == sorted(REQUESTS)
    for client in clients:
        attributes = client.attributes
        assert attributes["mcp.method.name"] == client.name.split(" ")[0]
        assert attributes["jsonrpc.request.id"].isdigit()
        assert attributes["network.transport"] == ("pipe" if transport == "stdio" else "tcp")
        if client.name == "initialize" and not MCP_2:
            continue  # mcp 1 answers initialize inside the session, before any server handler
        server = run.server_child(client, client.name)
        assert server.trace_id == client.trace_id
        assert server.attributes["mcp.method.name"] == attributes["mcp.method.name"]
        assert server.attributes["jsonrpc.request.id"] == attributes["jsonrpc.request.id"]
    if transport != "stdio":
        call = run.client("tools/call add")
        assert call.attributes["server.address"] == "127.0.0.1"
        assert isinstance(call.attributes["server.port"], int)
        assert call.attributes["network.protocol.name"] == "http"
        assert run.server_child(call).attributes["mcp.session.id"]


def test_streamable_http_requests_carry_the_session_id(plain_http: Run) -> None:
    """Streamable HTTP names the session (the server's `mcp-session-id` header, first sent with the answer to
    `initialize`); stdio and SSE clients have none."""
    clients = [s for s in plain_http.spans("e2e-app") if s.kind == CLIENT]
    session_ids = {s.attributes.get("mcp.session.id") for s in clients}
    assert len(session_ids) == 1 and None not in session_ids, session_ids
    call = plain_http.client("tools/call add")
    assert plain_http.server_child(call).attributes["mcp.session.id"] == call.attributes["mcp.session.id"]


def test_tool_resource_and_prompt_attributes(plain_stdio: Run) -> None:
    run = plain_stdio
    for tool in ("add", "search", "fail"):
        span = run.client(f"tools/call {tool}")
        assert span.attributes["gen_ai.operation.name"] == "execute_tool"
        assert span.attributes["gen_ai.tool.name"] == tool
        assert span.attributes["mcp.protocol.version"]
        assert run.server_child(span).attributes["gen_ai.tool.name"] == tool
    assert run.client("resources/read").attributes["mcp.resource.uri"] == "config://app"
    assert run.client("prompts/get summarize").attributes["gen_ai.prompt.name"] == "summarize"
    assert "gen_ai.operation.name" not in run.client("tools/list").attributes


def test_tool_handler_work_appears_under_the_callers_span(plain_stdio: Run) -> None:
    run = plain_stdio
    server = run.server_child(run.client("tools/call search"))
    (work,) = [s for s in run.spans("mcp-server") if s.name == "lookup knowledge base"]
    assert work.parent_id == server.span_id and work.trace_id == server.trace_id


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_tool_error_is_marked_on_both_sides(transport: str, request: pytest.FixtureRequest) -> None:
    run = plain_run(request, transport)
    client = run.client("tools/call fail")
    server = run.server_child(client)
    for span in (client, server):
        assert span.status_code == STATUS_ERROR
        assert span.attributes["error.type"] == "tool_error"
    for name in ("tools/call add", "tools/call search"):
        assert run.client(name).status_code != STATUS_ERROR


def test_client_duration_metric(plain_stdio: Run) -> None:
    points = [p for p in plain_stdio.receiver.points if p.metric == "mcp.client.operation.duration"]
    calls = {
        (p.attributes.get("gen_ai.tool.name"), p.attributes.get("error.type")): p.count
        for p in points
        if p.attributes["mcp.method.name"] == "tools/call"
    }
    assert calls == {("add", None): 1, ("search", None): 1, ("fail", "tool_error"): 1}
    assert {p.attributes["mcp.method.name"] for p in points} == {name.split(" ")[0] for name in REQUESTS}
    assert {p.resource["service.name"] for p in points} == {"e2e-app"}
    served = [p for p in plain_stdio.receiver.points if p.metric == "mcp.server.operation.duration"]
    assert {p.resource["service.name"] for p in served} == {"mcp-server"}
    failed = [p for p in served if p.attributes.get("error.type") == "tool_error"]
    assert [p.attributes["gen_ai.tool.name"] for p in failed] == ["fail"]


# What the server reports of a `tools/call`, on mcp 1.x (its span is ours) and on mcp 2 (the SDK's span, with ours
# added to it) alike: the span's attributes and the labels of its `mcp.server.operation.duration` point.
TOOL_CALL_SERVED = {"mcp.method.name", "gen_ai.operation.name", "gen_ai.tool.name", "mcp.protocol.version"}
SERVER_TOOL_CALL_SPAN = {
    "stdio": TOOL_CALL_SERVED | {"network.transport", "jsonrpc.request.id"},
    "http": TOOL_CALL_SERVED
    | {"network.transport", "network.protocol.name", "jsonrpc.request.id", "mcp.session.id"}
    | {"client.address", "client.port"},
}
SERVER_TOOL_CALL_METRIC = {
    "stdio": TOOL_CALL_SERVED | {"network.transport"},
    "http": TOOL_CALL_SERVED | {"network.transport", "network.protocol.name"},
}


@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_a_served_tool_call_looks_the_same_on_every_mcp_release(transport: str, request: pytest.FixtureRequest) -> None:
    run = plain_run(request, transport)
    server = run.server_child(run.client("tools/call add"))
    assert set(server.attributes) == SERVER_TOOL_CALL_SPAN[transport]
    assert server.attributes["network.transport"] == ("pipe" if transport == "stdio" else "tcp")
    calls = 1 if transport == "stdio" else 2  # the HTTP server also served the same client run uninstrumented

    def add_calls(point: Point) -> bool:
        return point.attributes.get("gen_ai.tool.name") == "add" and point.count == calls

    (point, *_) = run.receiver.wait_for_points("mcp.server.operation.duration", add_calls)
    assert set(point.attributes) == SERVER_TOOL_CALL_METRIC[transport]
    assert point.resource["service.name"] == "mcp-server"


def exported_text(receiver: OtlpReceiver) -> str:
    parts: list[str] = []
    for span in receiver.spans:
        parts += [span.name, span.status_message, json.dumps(span.attributes, default=str)]
        parts += [json.dumps(span.resource, default=str), json.dumps(span.events, default=str)]
    for point in receiver.points:
        parts.append(json.dumps(point.attributes, default=str))
    for record in receiver.logs:
        parts.append(json.dumps(record.__dict__, default=str))
    return "\n".join(parts)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_nothing_secret_is_exported(transport: str, request: pytest.FixtureRequest) -> None:
    text = exported_text(plain_run(request, transport).receiver)
    assert "mcp.method.name" in text  # the check reads the real export
    for secret in (ARG_SECRET, ENV_SECRET, "--token", "mcp_server.py"):
        assert secret not in text


def test_server_dying_mid_call_is_marked() -> None:
    with OtlpReceiver() as receiver:
        result = run_instrumented("mcp_client_app.py", "crash-stdio", receiver=receiver, env=instrumented_server_env())
        bare = run_bare("crash-stdio", env=secrets_env())
        run = Run(receiver, printed(result), bare)
        run.wait_for("e2e-app", "tools/call crash")
        assert run.output == bare == {"crash": "MCPError" if MCP_2 else "McpError", "code": -32000}
        span = run.client("tools/call crash")
        assert span.status_code == STATUS_ERROR
        assert span.attributes["error.type"] == span.attributes["rpc.response.status_code"] == "-32000"
        assert "Connection closed" in span.status_message
        assert ARG_SECRET not in exported_text(receiver)


def test_a_tool_whose_body_is_an_mcp_call_is_one_span_on_every_mcp_release() -> None:
    """A traced tool (here a LangChain one) whose body makes an MCP tool call: the call joins the tool's span. mcp 2's
    own client span for it is not made either: one span for the call, continued by the server."""
    with OtlpReceiver() as receiver:
        run = compared_run(
            receiver,
            "langchain-tool-stdio",
            bare_env=secrets_env(),
            env=instrumented_server_env(),
            last_span="tools/call add",
        )
        assert run.output == run.bare_output == {"added": "5"}
        (tool,) = [s for s in run.spans("e2e-app") if s.name == "execute_tool add"]
        assert tool.attributes["mcp.method.name"] == "tools/call"
        assert tool.attributes["network.transport"] == "pipe"
        # the session's own requests have spans; the tool call is the tool's span, with no SDK span beside it
        clients = {s.name for s in run.spans("e2e-app") if s.kind == CLIENT}
        assert "initialize" in clients and clients <= {"initialize", "tools/list"}, clients
        assert run.server_child(tool, "tools/call add").trace_id == tool.trace_id


# --- a Kotaemon agent with MCP tools


def kotaemon_run(receiver: OtlpReceiver, *args: str) -> Run:
    with react_server() as model_server:
        return compared_run(
            receiver,
            args[0],
            model_server.base_url,
            *args[1:],
            bare_env={**kotaemon_environment(), **secrets_env()},
            env={**kotaemon_environment(), **instrumented_server_env()},
            last_span="tools/call search",
        )


@pytest.fixture(scope="module")
def kotaemon_stdio() -> Iterator[Run]:
    with OtlpReceiver() as receiver:
        yield kotaemon_run(receiver, "kotaemon-stdio")


@pytest.fixture(scope="module")
def kotaemon_sse(sse_server: tuple[str, OtlpReceiver]) -> Run:
    url, receiver = sse_server
    return kotaemon_run(receiver, "kotaemon-sse", url)


@kotaemon_needs_mcp_1
@pytest.mark.parametrize("transport", ["stdio", "sse"])
def test_kotaemon_mcp_tool_call_is_one_execute_tool_span_continued_by_the_server(
    transport: str, request: pytest.FixtureRequest
) -> None:
    run: Run = request.getfixturevalue(f"kotaemon_{transport}")
    assert run.output == run.bare_output == {"status": "finished", "text": "42", "tools": ["search"]}
    (agent,) = [s for s in run.spans("e2e-app") if s.name == "invoke_agent ReactAgent"]
    in_trace = [s for s in run.receiver.spans if s.trace_id == agent.trace_id]
    (tool,) = [s for s in in_trace if s.name == "execute_tool search"]
    assert tool.parent_id == agent.span_id
    assert not [s for s in in_trace if s.name == "tools/call search" and s.kind == CLIENT]  # merged, not doubled
    assert tool.attributes["gen_ai.operation.name"] == "execute_tool"
    assert tool.attributes["mcp.method.name"] == "tools/call"
    assert tool.attributes["jsonrpc.request.id"].isdigit()
    assert tool.attributes["network.transport"] == ("pipe" if transport == "stdio" else "tcp")
    server = run.server_child(tool, "tools/call search")
    (work,) = [s for s in in_trace if s.name == "lookup knowledge base"]
    assert work.parent_id == server.span_id
    # the session MCPTool opens for the call: its initialize is a child of the tool call too
    assert next(s.name for s in in_trace if s.parent_id == tool.span_id and s.kind == CLIENT) == "initialize"
    assert {s.resource["service.name"] for s in in_trace} == {"e2e-app", "mcp-server"}
    text = exported_text(run.receiver)
    assert ARG_SECRET not in text and ENV_SECRET not in text
