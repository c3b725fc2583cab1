"""End to end: a LangChain app on an MCP server's tools through langchain-mcp-adapters, the app and the server each
under `opentelemetry-instrument`, exporting to one receiver.

The app (tests/apps/mcp_langchain_app.py) loads the tools with `MultiServerMCPClient` and calls them directly, from a
small agent step (the local OpenAI-compatible server asks for the tool) and on a session of its own
(`load_mcp_tools`). The server (tests/apps/mcp_server.py) runs as a stdio subprocess of each session, or on its own
over streamable HTTP. Each run is compared with the same run without instrumentation.

The adapters need langchain-core 1.x and mcp 1.x: they run in their own environment (`make test-adapters`).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.test_mcp_e2e import (
    ARG_SECRET,
    CLIENT,
    ENV_SECRET,
    SERVER,
    STATUS_ERROR,
    Run,
    compared_run,
    exported_text,
    instrumented_server_env,
    network_server,
    secrets_env,
)
from tests.support.openai_server import OpenAIServer
from tests.support.otlp_receiver import OtlpReceiver, Span

pytest.importorskip(
    "langchain_mcp_adapters",
    reason="langchain-mcp-adapters needs langchain-core 1.x and mcp 1.x: only the adapters environment has it "
    "(make test-adapters)",
)

INTERNAL = 1
EXPECTED = {
    "added": "5",
    "agent": {
        "answer": "The answer is 42, as the retrieved documents say.",
        "tool_output": "Sunny in Paris, 21 degrees celsius.",
        "tool_status": "success",
    },
    "failed": "Error executing tool fail: cannot do it: no",
    "found": "The answer to 'meaning of life' is 42.",
    "tools": ["add", "crash", "fail", "search", "weather"],
}


def langchain_run(receiver: OtlpReceiver, transport: str, *args: str, env: dict[str, str]) -> Run:
    with OpenAIServer() as model_server:
        return compared_run(
            receiver,
            model_server.base_url,
            transport,
            *args,
            bare_env=secrets_env(),
            env=env,
            last_span="tools/call search",
            app="mcp_langchain_app.py",
        )


@pytest.fixture(scope="module")
def adapters_stdio() -> Iterator[Run]:
    with OtlpReceiver() as receiver:
        yield langchain_run(receiver, "stdio", env=instrumented_server_env())


@pytest.fixture(scope="module")
def adapters_http() -> Iterator[Run]:
    with network_server("http") as (url, receiver):
        yield langchain_run(receiver, "http", url, env={})


def tool_span(run: Run, name: str) -> Span:
    (span,) = [s for s in run.spans("e2e-app") if s.name == f"execute_tool {name}"]
    return span


@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_results_unchanged(transport: str, request: pytest.FixtureRequest) -> None:
    run: Run = request.getfixturevalue(f"adapters_{transport}")
    expected = {**EXPECTED, "crash": "McpError"} if transport == "stdio" else EXPECTED
    assert run.output == run.bare_output == expected


@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_each_tool_call_is_one_execute_tool_span_continued_by_the_server(
    transport: str, request: pytest.FixtureRequest
) -> None:
    run: Run = request.getfixturevalue(f"adapters_{transport}")
    # the MCP tools/call of each LangChain tool run is merged into its execute_tool span: no second client span
    assert not [s for s in run.spans("e2e-app") if s.name.startswith("tools/call") and s.kind == CLIENT]
    for name in ("add", "fail", "weather", "search"):
        tool = tool_span(run, name)
        assert tool.kind == INTERNAL
        attributes = tool.attributes
        assert attributes["gen_ai.operation.name"] == "execute_tool"
        assert attributes["gen_ai.tool.name"] == name
        assert attributes["mcp.method.name"] == "tools/call"
        assert attributes["mcp.protocol.version"]
        assert attributes["jsonrpc.request.id"].isdigit()
        assert attributes["network.transport"] == ("pipe" if transport == "stdio" else "tcp")
        server = run.server_child(tool, f"tools/call {name}")
        assert server.trace_id == tool.trace_id
        assert server.kind == SERVER
        assert server.attributes["jsonrpc.request.id"] == attributes["jsonrpc.request.id"]
        if transport == "http":
            assert attributes["server.address"] == "127.0.0.1"
            assert attributes["mcp.session.id"] == server.attributes["mcp.session.id"]
    (work,) = [s for s in run.spans("mcp-server") if s.name == "lookup knowledge base"]
    assert work.parent_id == run.server_child(tool_span(run, "search")).span_id


def test_the_session_a_tool_call_opens_is_under_it(adapters_stdio: Run) -> None:
    """Without a session the adapters open one per call: its initialize (and the tools/list mcp 1.x makes to check
    the result) are client spans under the tool call, continued by the server where it handles them."""
    run = adapters_stdio
    tool = tool_span(run, "add")
    requests = sorted(s.name for s in run.spans("e2e-app") if s.parent_id == tool.span_id and s.kind == CLIENT)
    assert requests[0] == "initialize" and set(requests) <= {"initialize", "tools/list"}
    # the tools loaded on a session the app opened: no tool call to sit under, so each request is a trace of its own
    roots = [s for s in run.spans("e2e-app") if s.parent_id == "" and s.kind == CLIENT]
    assert {s.name for s in roots} == {"initialize", "tools/list"}


def test_agent_step_calls_the_mcp_tool_in_one_trace(adapters_stdio: Run) -> None:
    run = adapters_stdio
    (agent,) = [s for s in run.spans("e2e-app") if s.name == "invoke_agent WeatherAgent"]
    tool = tool_span(run, "weather")
    assert tool.parent_id == agent.span_id
    chats = [s for s in run.spans("e2e-app") if s.parent_id == agent.span_id and s.name.startswith("chat ")]
    assert len(chats) == 2
    assert chats[0].attributes["gen_ai.response.finish_reasons"] == ["tool_calls"]
    assert tool.attributes["gen_ai.tool.call.id"]  # the model's tool call the run answers
    in_trace = {s.resource["service.name"] for s in run.receiver.spans if s.trace_id == agent.trace_id}
    assert in_trace == {"e2e-app", "mcp-server"}


@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_errors_are_marked(transport: str, request: pytest.FixtureRequest) -> None:
    run: Run = request.getfixturevalue(f"adapters_{transport}")
    failed = tool_span(run, "fail")  # the adapters hand the error to the model as the tool's output
    for span in (failed, run.server_child(failed)):
        assert span.status_code == STATUS_ERROR
        assert span.attributes["error.type"] == "tool_error"
    for name in ("add", "weather", "search"):
        assert tool_span(run, name).status_code != STATUS_ERROR
    if transport == "stdio":  # the server died mid-call: the adapters raise the connection error
        crashed = tool_span(run, "crash")
        assert crashed.status_code == STATUS_ERROR
        assert crashed.attributes["error.type"] == crashed.attributes["rpc.response.status_code"] == "-32000"


def test_client_duration_metric(adapters_stdio: Run) -> None:
    points = [p for p in adapters_stdio.receiver.points if p.metric == "mcp.client.operation.duration"]
    calls = {
        (p.attributes.get("gen_ai.tool.name"), p.attributes.get("error.type")): p.count
        for p in points
        if p.attributes["mcp.method.name"] == "tools/call"
    }
    expected = {("add", None), ("fail", "tool_error"), ("weather", None), ("crash", "-32000"), ("search", None)}
    assert calls == dict.fromkeys(expected, 1)


@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_nothing_secret_is_exported(transport: str, request: pytest.FixtureRequest) -> None:
    run: Run = request.getfixturevalue(f"adapters_{transport}")
    text = exported_text(run.receiver)
    assert "mcp.method.name" in text  # the check reads the real export
    for secret in (ARG_SECRET, ENV_SECRET, "--token", "mcp_server.py", "sk-proj-"):
        assert secret not in text
