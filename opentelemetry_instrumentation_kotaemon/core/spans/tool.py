"""Tool spans: `execute_tool {name}`, with the MCP request the tool made when it is an MCP tool; the
`gen_ai.execute_tool.duration` metric."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ... import attributes as attr
from .step import Attributes, Fields, Step

if TYPE_CHECKING:
    from .mcp import McpRequest


@dataclass(slots=True, kw_only=True)
class ToolStep(Step):
    """A tool run by an agent or a chain."""

    KIND: ClassVar[str] = attr.KIND_TOOL
    OPERATION: ClassVar[str | None] = attr.OPERATION_EXECUTE_TOOL

    tool_name: str | None = None
    tool_type: str = attr.TOOL_TYPE_FUNCTION
    description: str | None = None
    call_id: str | None = None
    """The id of the model's tool call this run answers."""
    arguments: Any = None
    """Content: the tool's input (a string, or a structure exported as JSON)."""
    result: str | None = None
    """Content: the tool's output."""
    mcp: McpRequest | None = None
    """The MCP `tools/call` this tool call made (an MCP tool): the span carries its attributes, not a second span."""

    START_ATTRIBUTES: ClassVar[Fields] = (
        ("tool_name", attr.GEN_AI_TOOL_NAME),
        ("tool_type", attr.GEN_AI_TOOL_TYPE),
        ("description", attr.GEN_AI_TOOL_DESCRIPTION),
        ("call_id", attr.GEN_AI_TOOL_CALL_ID),
    )
    START_CONTENT: ClassVar[Fields] = (("arguments", attr.GEN_AI_TOOL_CALL_ARGUMENTS),)
    END_CONTENT: ClassVar[Fields] = (("result", attr.GEN_AI_TOOL_CALL_RESULT),)

    def _end_attributes(self, values: Attributes) -> None:
        if self.mcp is not None:  # known in full only now (mcp 2 picks the request id inside the call)
            values.update(self.mcp.span_attributes())
            values.update(self.mcp.outcome_attributes())

    def _duration_attributes(self) -> Attributes:
        return {attr.GEN_AI_TOOL_NAME: self.tool_name or self.name}
