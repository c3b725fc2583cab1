from .base import AgentAction, AgentFinish, AgentOutput, AgentType

__all__ = ["AgentAction", "AgentFinish", "AgentOutput", "AgentType"]
