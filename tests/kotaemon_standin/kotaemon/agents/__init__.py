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
