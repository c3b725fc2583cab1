"""A LangChain app on an MCP server's tools (langchain-mcp-adapters) that knows nothing of OpenTelemetry; prints
what it got back, as JSON.

Usage: mcp_langchain_app.py BASE_URL stdio|http [MCP_URL]
  stdio      the server as a stdio subprocess (under APP_MCP_LAUNCHER, with a token on its command line and one in
             its environment, as in mcp_client_app.py)
  http URL   the server over streamable HTTP

`MultiServerMCPClient` loads the tools (a session of its own) and each tool call opens its own session, as the
adapters do without one: `add` and a failing `fail` called directly, `weather` called by a small agent step (a chat
model on BASE_URL, the local OpenAI-compatible server, asks for it), `crash` whose server dies mid-call (stdio
only). Then tools loaded with `load_mcp_tools` on one explicit session: `search`.
"""

import asyncio
import json
import sys

from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableLambda
from langchain_mcp_adapters.client import MultiServerMCPClient
from langchain_mcp_adapters.tools import load_mcp_tools
from langchain_openai import ChatOpenAI
from mcp_client_app import API_KEY, server_command, server_environment


def connection(transport: str, url: str | None) -> dict:
    if transport == "http":
        return {"transport": "streamable_http", "url": url}
    command, *args = server_command()
    return {"transport": "stdio", "command": command, "args": args, "env": server_environment()}


def text(content) -> str:
    """A tool's output as text: LangChain content blocks, or a string."""
    if isinstance(content, str):
        return content
    return "".join(block.get("text", "") if isinstance(block, dict) else str(block) for block in content)


async def run(base_url: str, transport: str, url: str | None) -> dict:
    client = MultiServerMCPClient({"tools": connection(transport, url)})
    tools = {tool.name: tool for tool in await client.get_tools()}
    result: dict = {"tools": sorted(tools)}
    result["added"] = text(await tools["add"].ainvoke({"a": 2, "b": 3}))
    result["failed"] = text(await tools["fail"].ainvoke({"reason": "no"}))

    llm = ChatOpenAI(base_url=base_url, api_key=API_KEY, model="m-mcp-agent").bind_tools([tools["weather"]])

    async def agent(question: str) -> dict:
        messages = [HumanMessage(question)]
        reply = await llm.ainvoke(messages)
        messages.append(reply)
        for call in reply.tool_calls:
            messages.append(await tools[call["name"]].ainvoke(call))
        final = await llm.ainvoke(messages)
        return {"tool_status": messages[2].status, "tool_output": text(messages[2].content), "answer": final.content}

    result["agent"] = await RunnableLambda(agent).with_config(run_name="WeatherAgent").ainvoke("Weather in Paris?")

    if transport == "stdio":
        try:
            await tools["crash"].ainvoke({})
            result["crash"] = None
        except Exception as error:  # the server died: McpError, connection closed
            result["crash"] = type(error).__name__

    async with client.session("tools") as session:
        session_tools = {tool.name: tool for tool in await load_mcp_tools(session)}
        result["found"] = text(await session_tools["search"].ainvoke({"query": "meaning of life"}))
    return result


def main() -> None:
    base_url, transport, *rest = sys.argv[1:]
    print(json.dumps(asyncio.run(run(base_url, transport, rest[0] if rest else None)), sort_keys=True))


if __name__ == "__main__":
    main()
