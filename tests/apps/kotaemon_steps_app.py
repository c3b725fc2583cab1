"""A Kotaemon pipeline with a plain step (a prompt template) before its LLM, knowing nothing of OpenTelemetry.

Usage: kotaemon_steps_app.py BASE_URL
"""

import sys

from kotaemon.base import BaseComponent, Document
from kotaemon.llms import BasePromptComponent, ChatOpenAI


class Ask(BaseComponent):
    """Fills the prompt template, then asks the LLM."""

    prompt: BasePromptComponent
    llm: ChatOpenAI

    def run(self, question: str) -> Document:
        return self.llm(self.prompt(question=question).text)


if __name__ == "__main__":
    llm = ChatOpenAI(model="kt-steps", base_url=sys.argv[1], api_key="sk-proj-e2eSECRETkey0123456789abcdef")
    answer = Ask(prompt=BasePromptComponent(template="Q: {question}"), llm=llm)("What is the answer?")
    assert answer.text, answer
