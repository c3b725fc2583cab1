"""Stand-in for `libs/kotaemon/kotaemon/agents/rewoo/agent.py` (Kotaemon v0.11.3): a small ReWOO agent: plans with the
LLM, runs the planned tools in a thread pool, solves with the LLM.

Its `run` is wrapped by `safeguard_run`, so a failure comes back as `AgentOutput(status="failed")`.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

from kotaemon.agents.base import BaseAgent
from kotaemon.agents.io import AgentOutput, AgentType


class RewooAgent(BaseAgent):
    name: str = "RewooAgent"
    agent_type: AgentType = AgentType.rewoo
    description: str = "RewooAgent for answering multi-step reasoning questions"

    def _run_plugin(self, step: tuple[str, str]) -> str:
        name, tool_input = step
        for tool in self.plugins:
            if tool.name == name:
                return str(tool(tool_input))
        raise ValueError(f"unknown tool {name}")

    @BaseAgent.safeguard_run
    def run(self, instruction: str) -> AgentOutput:
        llm = self.get_from_path("llm") if self.fl.in_run else self.llm
        plan = llm(f"Plan tool calls as '#E1 = tool[input]' lines for: {instruction}").text
        steps = re.findall(r"#E\d+\s*=\s*(\w+)\[(.*?)\]", plan)
        with ThreadPoolExecutor() as executor:
            evidence = list(executor.map(self._run_plugin, steps))
        answer = llm(f"Solve: {instruction}\nEvidence: {evidence}").text
        return AgentOutput(text=answer, agent_type=self.agent_type, status="finished")
