"""Tool spans: `execute_tool {name}`; the `kotaemon.tool.*` metrics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ... import attributes as attr
from ..instruments import Instruments
from .step import Attributes, Step


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

    def _start_attributes(self, values: Attributes) -> None:
        if self.tool_name:
            values[attr.GEN_AI_TOOL_NAME] = self.tool_name
        if self.description:
            values[attr.GEN_AI_TOOL_DESCRIPTION] = self.description
        if self.call_id is not None:
            values[attr.GEN_AI_TOOL_CALL_ID] = self.call_id

    def start_content(self) -> Attributes:
        return {attr.GEN_AI_TOOL_CALL_ARGUMENTS: self.arguments} if self.arguments is not None else {}

    def end_content(self) -> Attributes:
        return {attr.GEN_AI_TOOL_CALL_RESULT: self.result} if self.result is not None else {}

    def _record_metrics(self, instruments: Instruments, labels: Attributes, error_name: str | None) -> None:
        tool_labels: Attributes = {attr.GEN_AI_TOOL_NAME: self.tool_name or self.name}
        if error_name is not None:
            tool_labels[attr.ERROR_TYPE] = error_name
        instruments.tool_calls.add(1, tool_labels)
