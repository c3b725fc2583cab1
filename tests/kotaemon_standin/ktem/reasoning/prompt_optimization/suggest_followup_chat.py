"""Stand-in for `libs/ktem/ktem/reasoning/prompt_optimization/suggest_followup_chat.py` (Kotaemon v0.11.3):
`SuggestFollowupQuesPipeline`, follow-up questions.
"""

from __future__ import annotations

from kotaemon.base import AIMessage, BaseComponent, Document, HumanMessage
from kotaemon.llms import ChatLLM


class SuggestFollowupQuesPipeline(BaseComponent):
    """Suggests follow-up questions after an answer."""

    llm: ChatLLM
    lang: str = "English"

    def run(self, chat_history: list[tuple[str, str]]) -> Document:  # type: ignore
        messages = []
        for human, ai in chat_history[-3:]:
            messages += [HumanMessage(content=human), AIMessage(content=ai)]
        messages.append(HumanMessage(content=f"Suggest three follow-up questions ({self.lang}) as a JSON list."))
        return self.llm(messages)
