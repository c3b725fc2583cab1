"""Answering with context: streams the LLM's answer while citations run in a thread.

In Kotaemon this pipeline needs the app (ktem); this stand-in hosts it here without that dependency.
"""

from __future__ import annotations

import threading

from kotaemon.base import BaseComponent, Document, HumanMessage, Node
from kotaemon.llms import BaseLLM

from .citation import CitationPipeline


class AnswerWithContextPipeline(BaseComponent):
    llm: BaseLLM
    citation_pipeline: CitationPipeline = Node(default_callback=lambda self: CitationPipeline(llm=self.llm))
    enable_citation: bool = True

    def get_prompt(self, question: str, evidence: str) -> str:
        return f"Use the context to answer.\nContext: {evidence}\nQuestion: {question}"

    def invoke(self, question: str, evidence: str, **kwargs) -> Document:
        raise NotImplementedError

    def run(self, question: str, evidence: str, **kwargs) -> Document:
        return self.invoke(question, evidence, **kwargs)

    def stream(self, question: str, evidence: str, **kwargs):
        citation: dict = {}

        def cite():
            citation["value"] = self.citation_pipeline(context=evidence, question=question)

        thread = threading.Thread(target=cite) if self.enable_citation else None
        if thread is not None:
            thread.start()
        output = ""
        llm = self.get_from_path("llm") if self.fl.in_run else self.llm
        try:
            for chunk in llm.stream([HumanMessage(content=self.get_prompt(question, evidence))]):
                output += chunk.text
                yield Document(channel="chat", content=chunk.text)
        except NotImplementedError:
            output = llm([HumanMessage(content=self.get_prompt(question, evidence))]).text
            yield Document(channel="chat", content=output)
        if thread is not None:
            thread.join()
        return Document(content=output, metadata={"citation": citation.get("value")})
