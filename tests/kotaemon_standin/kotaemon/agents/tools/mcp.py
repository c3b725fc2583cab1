"""Stand-in for `libs/kotaemon/kotaemon/agents/tools/mcp.py` (Kotaemon v0.11.3; the module came in 0.11.2): an MCP
server's tools as Kotaemon tools.

Same names, signatures and call paths as the real module: discovery and every tool call open their own session
(stdio or SSE), and `_run_async` runs the coroutine on a worker thread with `asyncio.run` when the calling thread
already has a running loop.
"""

import asyncio
import json
import shlex
from typing import Any, Optional, Type

from pydantic import BaseModel, Field, create_model

from .base import BaseTool

_JSON_TYPES = {"string": str, "integer": int, "number": float, "boolean": bool, "object": dict, "array": list}


def _json_schema_type_to_python(json_type: str) -> type:
    return _JSON_TYPES.get(json_type, str)


def build_args_model(tool_name: str, input_schema: dict) -> Type[BaseModel]:
    required = set(input_schema.get("required", []))
    fields: dict[str, Any] = {}
    for name, spec in input_schema.get("properties", {}).items():
        kind = _json_schema_type_to_python(spec.get("type", "string"))
        description = spec.get("description", "")
        if name in required:
            fields[name] = (kind, Field(..., description=description))
        else:
            fields[name] = (Optional[kind], Field(default=spec.get("default"), description=description))
    return create_model(f"MCPArgs_{tool_name}", **fields)


def parse_mcp_config(config: dict) -> dict:
    transport = config.get("transport", "stdio")
    command = config.get("command", "")
    args = config.get("args", [])
    if transport == "stdio" and not args and " " in command:
        command, *args = shlex.split(command)
    return {
        "transport": transport,
        "command": command if transport == "stdio" else config.get("url", ""),
        "args": args,
        "env": config.get("env", {}),
    }


def _make_tool(parsed: dict, tool_info: Any) -> "MCPTool":
    schema = getattr(tool_info, "inputSchema", None) or {}
    return MCPTool(
        name=tool_info.name,
        description=tool_info.description or f"MCP tool: {tool_info.name}",
        args_schema=build_args_model(tool_info.name, schema) if schema else None,
        server_transport=parsed["transport"],
        server_command=parsed["command"],
        server_args=parsed.get("args", []),
        server_env=parsed.get("env", {}),
        mcp_tool_name=tool_info.name,
    )


async def _async_discover_tools(parsed: dict) -> list["MCPTool"]:
    from mcp import ClientSession
    from mcp.client.sse import sse_client
    from mcp.client.stdio import StdioServerParameters, stdio_client

    if parsed["transport"] == "stdio":
        params = StdioServerParameters(
            command=parsed["command"], args=parsed.get("args", []), env=parsed.get("env") or None
        )
        connection = stdio_client(params)
    elif parsed["transport"] == "sse":
        connection = sse_client(url=parsed["command"])
    else:
        return []
    async with connection as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        listed = await session.list_tools()
        return [_make_tool(parsed, info) for info in listed.tools]


def _run_async(coro: Any) -> Any:
    try:
        loop = asyncio.get_event_loop()
        if loop.is_running():
            import concurrent.futures

            with concurrent.futures.ThreadPoolExecutor() as pool:
                return pool.submit(asyncio.run, coro).result()
        return loop.run_until_complete(coro)
    except RuntimeError:
        return asyncio.run(coro)


def create_tools_from_config(config: dict, enabled_tools: Optional[list[str]] = None) -> list["MCPTool"]:
    tools = _run_async(_async_discover_tools(parse_mcp_config(config)))
    if enabled_tools:
        tools = [tool for tool in tools if tool.mcp_tool_name in enabled_tools]
    return tools


class MCPTool(BaseTool):
    name: str = ""
    description: str = ""
    args_schema: Optional[Type[BaseModel]] = None

    server_transport: str = "stdio"
    server_command: str = ""
    server_args: list[str] = []
    server_env: dict[str, str] = {}

    mcp_tool_name: str = ""

    def _run_tool(self, *args: Any, **kwargs: Any) -> str:
        return _run_async(self._arun_tool(*args, **kwargs))

    def _tool_arguments(self, args: tuple, kwargs: dict) -> dict:
        if not (args and isinstance(args[0], str)):
            return kwargs
        try:
            return json.loads(args[0])
        except json.JSONDecodeError:
            if self.args_schema:
                return {next(iter(self.args_schema.model_fields)): args[0]}
            return {"input": args[0]}

    async def _arun_tool(self, *args: Any, **kwargs: Any) -> str:
        from mcp import ClientSession
        from mcp.client.sse import sse_client
        from mcp.client.stdio import StdioServerParameters, stdio_client

        tool_args = self._tool_arguments(args, kwargs)
        if self.server_transport == "stdio":
            command, command_args = self.server_command, self.server_args
            if not command_args and " " in command:
                command, *command_args = shlex.split(command)
            params = StdioServerParameters(
                command=command, args=command_args, env=self.server_env if self.server_env else None
            )
            connection = stdio_client(params)
        elif self.server_transport == "sse":
            connection = sse_client(url=self.server_command)
        else:
            return f"Unsupported transport: {self.server_transport}"
        async with connection as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            result = await session.call_tool(self.mcp_tool_name, tool_args)
            return self._format_result(result)

    def _format_result(self, result: Any) -> str:
        if result.isError:
            return f"MCP Tool Error: {result.content}"
        parts = []
        for content in result.content:
            if hasattr(content, "text"):
                parts.append(content.text)
            elif hasattr(content, "data"):
                parts.append(f"[Binary data: {content.mimeType}]")
            else:
                parts.append(str(content))
        return "\n".join(parts)
