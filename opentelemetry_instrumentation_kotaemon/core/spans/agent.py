"""Agent spans: `invoke_agent {name}`, with the agent's status and iterations; the agent duration metric."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ... import attributes as attr
from .step import Attributes, Fields, Step


@dataclass(slots=True, kw_only=True)
class AgentStep(Step):
    """An agent answering an instruction, calling models and tools on the way."""

    KIND: ClassVar[str] = attr.KIND_AGENT
    INVOCATION: ClassVar[bool] = True
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

    START_ATTRIBUTES: ClassVar[Fields] = (
        ("agent_name", attr.GEN_AI_AGENT_NAME),
        ("description", attr.GEN_AI_AGENT_DESCRIPTION),
        ("agent_type", attr.KOTAEMON_AGENT_TYPE),
        ("tools", attr.KOTAEMON_AGENT_TOOLS),
        ("max_iterations", attr.KOTAEMON_AGENT_MAX_ITERATIONS),
    )
    END_ATTRIBUTES: ClassVar[Fields] = (
        ("status", attr.KOTAEMON_AGENT_STATUS),
        ("iterations", attr.KOTAEMON_AGENT_ITERATIONS),
    )
    START_CONTENT: ClassVar[Fields] = (("instruction", attr.KOTAEMON_AGENT_INPUT),)
    END_CONTENT: ClassVar[Fields] = (("answer", attr.KOTAEMON_AGENT_OUTPUT),)

    def _duration_attributes(self) -> Attributes:
        return {attr.GEN_AI_AGENT_NAME: self.agent_name} if self.agent_name else {}
