"""An MCP server for the tests, run under `opentelemetry-instrument`: `mcp_server.py stdio|sse|http [port] --token T`
(http: streamable HTTP, at /mcp).

Tools: `search` (does traced work of its own), `add`, `weather` (takes the arguments the local OpenAI server's tool
calls carry), `fail` (raises), `crash` (the process dies mid-call).
One resource and one prompt. FastMCP on mcp 1.x, its successor MCPServer on mcp 2.
"""

# no `from __future__ import annotations`: FastMCP 1.x reads the tools' annotations as classes
import os
import sys

from opentelemetry import trace

try:
    from mcp.server.fastmcp import FastMCP as Server
except ModuleNotFoundError:  # mcp 2
    from mcp.server.mcpserver import MCPServer as Server

server = Server("test-tools")
tracer = trace.get_tracer("mcp-test-server")


@server.tool()
def search(query: str) -> str:
    """Searches the knowledge base."""
    with tracer.start_as_current_span("lookup knowledge base") as span:
        span.set_attribute("app.query.length", len(query))
        return f"The answer to '{query}' is 42."


@server.tool()
def add(a: int, b: int) -> int:
    """Adds two numbers."""
    return a + b


@server.tool()
def weather(city: str, unit: str) -> str:
    """The weather in a city."""
    return f"Sunny in {city}, 21 degrees {unit}."


@server.tool()
def fail(reason: str) -> str:
    """Always fails."""
    raise ValueError(f"cannot do it: {reason}")


@server.tool()
def crash() -> str:
    """Ends the server process in the middle of the call."""
    sys.stdout.flush()
    os._exit(3)


@server.resource("config://app")
def app_config() -> str:
    """The app's configuration."""
    return "mode=test"


@server.prompt()
def summarize(text: str) -> str:
    """Asks for a summary."""
    return f"Summarize: {text}"


def main() -> None:
    args = sys.argv[1:]
    if "--token" in args:  # a secret on the command line, as real servers take API keys; never exported
        index = args.index("--token")
        del args[index : index + 2]
    if args[0] in ("sse", "http"):
        transport = "sse" if args[0] == "sse" else "streamable-http"
        port = int(args[1])
        if hasattr(server.settings, "port"):
            server.settings.host, server.settings.port = "127.0.0.1", port
            server.run(transport=transport)
        else:  # mcp 2: host and port are arguments of run()
            server.run(transport=transport, host="127.0.0.1", port=port)
    else:
        server.run(transport="stdio")


if __name__ == "__main__":
    main()
