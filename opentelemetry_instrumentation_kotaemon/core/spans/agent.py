"""Agent spans: `invoke_agent {name}`, with the agent's status and iterations; the agent duration metric."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ... import attributes as attr
from .step import Attributes, Step


@dataclass(slots=True, kw_only=True)
class AgentStep(Step):
    """An agent answering an instruction, calling models and tools on the way."""

    KIND: ClassVar[str] = attr.KIND_AGENT
    OPERATION: ClassVar[str | None] = attr.OPERATION_INVOKE_AGENT

    agent_name: str | None = None
    description: str | None = None
    agent_type: str | None = None
    """Kotaemon's agent type (react, rewoo, openai...)."""
    tools: list[str] | None = None
    """Names of the tools the agent may call."""
    max_iterations: int | float | None = None
    status: str | None = None
    """The final status: finished, stopped, failed (or thinking when its stream was left early)."""
    iterations: int | None = None
    """Tool-using steps the agent took."""
    instruction: str | None = None
    """Content: the instruction given to the agent."""
    answer: str | None = None
    """Content: the agent's answer."""

    def _start_attributes(self, values: Attributes) -> None:
        if self.agent_name:
            values[attr.GEN_AI_AGENT_NAME] = self.agent_name
        if self.description:
            values[attr.GEN_AI_AGENT_DESCRIPTION] = self.description
        if self.agent_type:
            values[attr.KOTAEMON_AGENT_TYPE] = self.agent_type
        if self.tools:
            values[attr.KOTAEMON_AGENT_TOOLS] = self.tools
        if self.max_iterations is not None:
            values[attr.KOTAEMON_AGENT_MAX_ITERATIONS] = self.max_iterations

    def _duration_attributes(self) -> Attributes:
        return {attr.GEN_AI_AGENT_NAME: self.agent_name} if self.agent_name else {}

    def _end_attributes(self, values: Attributes) -> None:
        if self.status is not None:
            values[attr.KOTAEMON_AGENT_STATUS] = self.status
        if self.iterations is not None:
            values[attr.KOTAEMON_AGENT_ITERATIONS] = self.iterations

    def start_content(self) -> Attributes:
        return {attr.KOTAEMON_AGENT_INPUT: self.instruction} if self.instruction is not None else {}

    def end_content(self) -> Attributes:
        return {attr.KOTAEMON_AGENT_OUTPUT: self.answer} if self.answer is not None else {}
