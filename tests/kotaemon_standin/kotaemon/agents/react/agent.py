"""Stand-in for `libs/kotaemon/kotaemon/agents/react/agent.py` (Kotaemon v0.11.3): a ReAct agent: asks the LLM for
Thought/Action/Action Input, runs the tool, repeats until Final Answer.
"""

from __future__ import annotations

import re

from kotaemon.agents.base import BaseAgent
from kotaemon.agents.io import AgentAction, AgentFinish, AgentOutput, AgentType
from kotaemon.base import Param

PROMPT = """Answer the question using the tools: {tools}.
Use the format:
Thought: ...
Action: the tool name
Action Input: the tool input
Observation: the tool result
... (repeat as needed)
Final Answer: the answer

Question: {instruction}
{scratchpad}"""


class ReactAgent(BaseAgent):
    name: str = "ReactAgent"
    agent_type: AgentType = AgentType.react
    description: str = "ReactAgent for answering multi-step reasoning questions"
    max_iterations: int = 5
    strict_decode: bool = False
    trim_func: object = Param(None)

    def _parse_output(self, text: str) -> AgentAction | AgentFinish | None:
        final = re.search(r"Final Answer:\s*(.*)", text, re.DOTALL)
        if final:
            return AgentFinish({"output": final.group(1).strip()}, text)
        action = re.search(r"Action\s*:\s*(.*?)\s*Action\s*Input\s*:\s*(.*)", text, re.DOTALL)
        if action:
            return AgentAction(action.group(1).strip(), action.group(2).strip().strip('"').split("\n")[0], text)
        return None

    def _prompt(self, instruction: str, steps: list) -> str:
        scratchpad = "".join(f"{a.log}\nObservation: {o}\n" for a, o in steps)
        return PROMPT.format(
            tools=", ".join(t.name for t in self.plugins), instruction=instruction, scratchpad=scratchpad
        )

    def _step(self, instruction: str, steps: list):
        llm_output = self.llm(self._prompt(instruction, steps), stop=["Observation:"])
        return self._parse_output(llm_output.text)

    def _run_tool(self, action: AgentAction) -> str:
        for tool in self.plugins:
            if tool.name == action.tool:
                return str(tool(action.tool_input))
        return f"{action.tool} is not a valid tool"

    def run(self, instruction, max_iterations=None) -> AgentOutput:
        steps: list = []
        for _ in range(max_iterations or self.max_iterations):
            parsed = self._step(instruction, steps)
            if parsed is None:
                break
            if isinstance(parsed, AgentFinish):
                return AgentOutput(
                    text=parsed.return_values["output"],
                    agent_type=self.agent_type,
                    status="finished",
                    intermediate_steps=steps,
                )
            steps.append((parsed, self._run_tool(parsed)))
        return AgentOutput(text="", agent_type=self.agent_type, status="stopped", intermediate_steps=steps)

    def stream(self, instruction, max_iterations=None):
        steps: list = []
        for _ in range(max_iterations or self.max_iterations):
            parsed = self._step(instruction, steps)
            if parsed is None:
                break
            if isinstance(parsed, AgentFinish):
                output = AgentOutput(
                    text=parsed.return_values["output"],
                    agent_type=self.agent_type,
                    status="finished",
                    intermediate_steps=steps,
                )
                yield output
                return output
            observation = self._run_tool(parsed)
            steps.append((parsed, observation))
            yield AgentOutput(text=parsed.log, agent_type=self.agent_type, status="thinking")
        output = AgentOutput(text="", agent_type=self.agent_type, status="stopped", intermediate_steps=steps)
        yield output
        return output
