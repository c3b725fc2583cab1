"""Stand-in for `libs/kotaemon/kotaemon/indices/qa/citation.py` (Kotaemon v0.11.3): citation extraction: `run` calls
`invoke`, which calls the real LLM object's `invoke` with a tool.
"""

from __future__ import annotations

from kotaemon.base import BaseComponent, Document, HumanMessage
from kotaemon.llms import BaseLLM

CITATION_TOOL = {
    "type": "function",
    "function": {
        "name": "cite",
        "description": "Quote the evidence",
        "parameters": {"type": "object", "properties": {"evidences": {"type": "array", "items": {"type": "string"}}}},
    },
}


class CitationPipeline(BaseComponent):
    llm: BaseLLM

    def run(self, context: str, question: str):
        return self.invoke(context, question)

    def invoke(self, context: str, question: str):
        llm = self.get_from_path("llm")
        message = HumanMessage(content=f"Cite the evidence for: {question}\nContext: {context}")
        try:
            result = llm.invoke([message], tools=[CITATION_TOOL], tool_choice="required")
        except Exception:
            return None
        return Document(content=result.additional_kwargs.get("tool_calls"))
