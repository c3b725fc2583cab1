"""Stand-in for `libs/kotaemon/kotaemon/agents/base.py` (Kotaemon v0.11.3): `BaseAgent` (`safeguard_run` turns a
failure into `AgentOutput(status="failed")`).
"""

from __future__ import annotations

from typing import Optional

from kotaemon.base import BaseComponent, Node, Param
from kotaemon.llms import BaseLLM

from .io import AgentOutput, AgentType
from .tools import BaseTool


class BaseAgent(BaseComponent):
    name: str = Param(help="Name of the agent.")
    agent_type: AgentType = Param(help="Agent type, must be one of AgentType")
    description: str = Param(help="What the agent is for")
    llm: Optional[BaseLLM] = Node(help="LLM to be used for the agent (optional).")
    prompt_template: Optional[str] = Param(help="A prompt template")
    plugins: list[BaseTool] = Param(default_callback=lambda _: [], help="Tools to be used in the agent")

    @staticmethod
    def safeguard_run(run_func, *args, **kwargs):
        def wrapper(self, *args, **kwargs):
            try:
                return run_func(self, *args, **kwargs)
            except Exception as e:
                return AgentOutput(text="", agent_type=self.agent_type, status="failed", error=str(e))

        return wrapper

    def add_tools(self, tools: list[BaseTool]) -> None:
        self.plugins.extend(tools)

    def run(self, *args, **kwargs):
        raise NotImplementedError()
