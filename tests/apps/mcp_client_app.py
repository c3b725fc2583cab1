"""MCP clients that know nothing of OpenTelemetry; prints what they got back, as JSON.

Usage: mcp_client_app.py MODE [BASE_URL_OR_SSE_URL]
  plain-stdio            a ClientSession on a stdio server: every kind of request, a failing tool
  plain-sse URL          the same over SSE
  plain-http URL         the same over streamable HTTP
  crash-stdio            a tool call during which the stdio server dies
  langchain-tool-stdio   a LangChain tool whose body is an MCP tool call on a stdio server
  kotaemon-stdio BASE    a Kotaemon ReAct agent with the server's tools (MCPTool), called from a running loop
  kotaemon-sse BASE URL  the same, the tools over SSE
The stdio server gets a token on its command line and one in its environment (APP_MCP_TOKEN,
APP_MCP_ENV_SECRET): what real servers hold, and what must never reach telemetry.
"""

import asyncio
import json
import os
import sys
from pathlib import Path

from mcp import ClientSession
from mcp.client.sse import sse_client
from mcp.client.stdio import StdioServerParameters, stdio_client

try:
    from mcp.client.streamable_http import streamable_http_client as http_client
except ImportError:  # older mcp 1.x: only the older name (its streams come with a get_session_id)
    from mcp.client.streamable_http import streamablehttp_client as http_client

SERVER = str(Path(__file__).with_name("mcp_server.py"))
API_KEY = "sk-proj-e2eSECRETkey0123456789abcdef"


def server_command() -> list[str]:
    launcher = os.environ.get("APP_MCP_LAUNCHER")  # opentelemetry-instrument, for an instrumented server
    command = [launcher] if launcher else []
    return [*command, sys.executable, SERVER, "stdio", "--token", os.environ["APP_MCP_TOKEN"]]


def server_environment() -> dict:
    env = {key: value for key, value in os.environ.items() if key.startswith("OTEL_")}
    env.update(OTEL_SERVICE_NAME="mcp-server", MCP_SERVER_API_TOKEN=os.environ["APP_MCP_ENV_SECRET"])
    return env


def stdio() -> object:
    command, *args = server_command()
    return stdio_client(StdioServerParameters(command=command, args=args, env=server_environment()))


def text(result) -> str:
    return "\n".join(getattr(part, "text", "") for part in result.content)


def is_error(result) -> bool:
    return bool(getattr(result, "isError", None) or getattr(result, "is_error", False))


async def plain(connection) -> dict:
    async with connection as streams, ClientSession(streams[0], streams[1]) as session:
        await session.initialize()
        tools = await session.list_tools()
        added = await session.call_tool("add", {"a": 2, "b": 3})
        found = await session.call_tool("search", {"query": "meaning of life"})
        failed = await session.call_tool("fail", {"reason": "no"})
        await session.list_resources()
        resource = await session.read_resource("config://app")
        await session.list_prompts()
        prompt = await session.get_prompt("summarize", {"text": "hello"})
        return {
            "tools": sorted(tool.name for tool in tools.tools),
            "added": text(added),
            "found": text(found),
            "failed": is_error(failed),
            "resource": resource.contents[0].text,
            "prompt": prompt.messages[0].content.text,
        }


async def crash() -> dict:
    async with stdio() as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        try:
            await session.call_tool("crash", {})
        except Exception as error:  # McpError (mcp 1) / MCPError (mcp 2): connection closed
            return {"crash": type(error).__name__, "code": getattr(getattr(error, "error", None), "code", None)}
        return {"crash": None}


def langchain_tool() -> dict:
    from langchain_core.tools import tool

    @tool
    async def add(a: int, b: int) -> str:
        """Adds two numbers with the MCP server's tool."""
        async with stdio() as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            return text(await session.call_tool("add", {"a": a, "b": b}))

    return {"added": asyncio.run(add.ainvoke({"a": 2, "b": 3}))}


def kotaemon(base_url: str, config: dict) -> dict:
    from kotaemon.agents import ReactAgent
    from kotaemon.agents.tools import create_tools_from_config
    from kotaemon.llms import ChatOpenAI

    tools = create_tools_from_config(config, enabled_tools=["search"])
    llm = ChatOpenAI(model="react-agent", base_url=base_url, api_key=API_KEY, temperature=0.2)
    agent = ReactAgent(llm=llm, plugins=tools)

    async def from_a_running_loop() -> object:  # as in a Gradio or FastAPI handler: MCPTool hops to a thread
        return agent("What is the meaning of life?")

    output = asyncio.run(from_a_running_loop())
    return {"tools": [tool.name for tool in tools], "status": output.status, "text": output.text}


def main() -> None:
    mode, *rest = sys.argv[1:]
    if mode == "plain-stdio":
        result = asyncio.run(plain(stdio()))
    elif mode == "plain-sse":
        result = asyncio.run(plain(sse_client(url=rest[0])))
    elif mode == "plain-http":
        result = asyncio.run(plain(http_client(rest[0])))
    elif mode == "crash-stdio":
        result = asyncio.run(crash())
    elif mode == "langchain-tool-stdio":
        result = langchain_tool()
    elif mode == "kotaemon-stdio":
        command, *args = server_command()
        config = {"transport": "stdio", "command": command, "args": args, "env": server_environment()}
        result = kotaemon(rest[0], config)
    else:
        result = kotaemon(rest[0], {"transport": "sse", "url": rest[1]})
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
