"""Tool spans: `execute_tool {name}`; the `kotaemon.tool.*` metrics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ... import attributes as attr
from ..instruments import Instruments
from .step import Attributes, Fields, Step


@dataclass(slots=True, kw_only=True)
class ToolStep(Step):
    """A tool run by an agent or a chain."""

    KIND: ClassVar[str] = attr.KIND_TOOL
    OPERATION: ClassVar[str | None] = attr.OPERATION_EXECUTE_TOOL

    tool_name: str | None = None
    description: str | None = None
    call_id: str | None = None
    """The id of the model's tool call this run answers."""
    arguments: Any = None
    """Content: the tool's input (a string, or a structure exported as JSON)."""
    result: str | None = None
    """Content: the tool's output."""

    START_ATTRIBUTES: ClassVar[Fields] = (
        ("tool_name", attr.GEN_AI_TOOL_NAME),
        ("description", attr.GEN_AI_TOOL_DESCRIPTION),
        ("call_id", attr.GEN_AI_TOOL_CALL_ID),
    )
    START_CONTENT: ClassVar[Fields] = (("arguments", attr.GEN_AI_TOOL_CALL_ARGUMENTS),)
    END_CONTENT: ClassVar[Fields] = (("result", attr.GEN_AI_TOOL_CALL_RESULT),)

    def _record_metrics(self, instruments: Instruments, labels: Attributes, error_name: str | None) -> None:
        tool_labels: Attributes = {attr.GEN_AI_TOOL_NAME: self.tool_name or self.name}
        if error_name is not None:
            tool_labels[attr.ERROR_TYPE] = error_name
        instruments.tool_calls.add(1, tool_labels)
