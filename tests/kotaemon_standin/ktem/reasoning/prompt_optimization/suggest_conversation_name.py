"""Stand-in for `libs/ktem/ktem/reasoning/prompt_optimization/suggest_conversation_name.py` (Kotaemon v0.11.3):
`SuggestConvNamePipeline`, a conversation's name.
"""

from __future__ import annotations

from kotaemon.base import AIMessage, BaseComponent, Document, HumanMessage
from kotaemon.llms import ChatLLM


class SuggestConvNamePipeline(BaseComponent):
    """Names a new conversation after its first exchange."""

    llm: ChatLLM
    lang: str = "English"

    def run(self, chat_history: list[tuple[str, str]]) -> Document:  # type: ignore
        messages = []
        for human, ai in chat_history:
            messages += [HumanMessage(content=human), AIMessage(content=ai)]
        messages.append(HumanMessage(content=f"Suggest a short name ({self.lang}) for this conversation."))
        return self.llm(messages)
