"""Stand-in for `libs/ktem/ktem/reasoning/prompt_optimization/mindmap.py` (Kotaemon v0.11.3): `CreateMindmapPipeline`,
an answer's mind map.
"""

from __future__ import annotations

from kotaemon.base import BaseComponent, Document, HumanMessage
from kotaemon.llms import ChatLLM


class CreateMindmapPipeline(BaseComponent):
    """Asks the LLM for a mind map (PlantUML) of the answer's context."""

    llm: ChatLLM

    def run(self, question: str, context: str) -> Document:  # type: ignore
        prompt = f"Create a mind map in PlantUML for the question: {question}\nContext: {context}"
        return self.llm([HumanMessage(content=prompt)])
