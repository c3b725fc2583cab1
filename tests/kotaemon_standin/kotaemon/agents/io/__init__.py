"""Stand-in for `libs/kotaemon/kotaemon/agents/io/__init__.py` (Kotaemon v0.11.3): the agents' records."""

from .base import AgentAction, AgentFinish, AgentOutput, AgentType

__all__ = ["AgentAction", "AgentFinish", "AgentOutput", "AgentType"]
