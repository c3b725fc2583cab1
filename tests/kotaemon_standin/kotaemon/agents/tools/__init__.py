"""Stand-in for `libs/kotaemon/kotaemon/agents/tools/__init__.py` (Kotaemon v0.11.3): the tools."""

from .base import BaseTool, ComponentTool, ToolException
from .mcp import MCPTool, build_args_model, create_tools_from_config, parse_mcp_config

__all__ = [
    "BaseTool",
    "ComponentTool",
    "MCPTool",
    "ToolException",
    "build_args_model",
    "create_tools_from_config",
    "parse_mcp_config",
]
