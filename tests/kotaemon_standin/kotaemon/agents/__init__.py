"""Stand-in for `libs/kotaemon/kotaemon/agents/__init__.py` (Kotaemon v0.11.3): the agents, their records and tools."""

from .base import BaseAgent
from .io import AgentAction, AgentFinish, AgentOutput, AgentType
from .react.agent import ReactAgent
from .rewoo.agent import RewooAgent
from .tools import BaseTool, ComponentTool

__all__ = [
    "AgentAction",
    "AgentFinish",
    "AgentOutput",
    "AgentType",
    "BaseAgent",
    "BaseTool",
    "ComponentTool",
    "ReactAgent",
    "RewooAgent",
]
