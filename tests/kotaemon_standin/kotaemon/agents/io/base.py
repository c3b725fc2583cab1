"""Stand-in for `libs/kotaemon/kotaemon/agents/io/base.py` (Kotaemon v0.11.3): `AgentType`, `AgentAction`,
`AgentFinish`, `AgentOutput`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, NamedTuple

from kotaemon.base import LLMInterface


class AgentType(Enum):
    openai = "openai"
    openai_multi = "openai_multi"
    openai_tool = "openai_tool"
    self_ask = "self_ask"
    react = "react"
    rewoo = "rewoo"
    vanilla = "vanilla"


@dataclass
class AgentAction:
    tool: str
    tool_input: str | dict
    log: str


class AgentFinish(NamedTuple):
    return_values: dict
    log: str


class AgentOutput(LLMInterface):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.agent_type: AgentType = kwargs.pop("agent_type")
        self.status: str = kwargs.pop("status")
        self.error: str | None = kwargs.pop("error", None)
        self.intermediate_steps: list | None = kwargs.pop("intermediate_steps", None)
        super().__init__(*args, **kwargs)
