"""Stand-in for `libs/kotaemon/kotaemon/indices/qa/citation_qa.py` (Kotaemon v0.11.3): answering with context: streams
the LLM's answer while citations (and the mind map) run in threads.

In Kotaemon this pipeline needs the app (ktem); this stand-in hosts it here without that dependency.
"""

from __future__ import annotations

import threading

from kotaemon.base import BaseComponent, Document, HumanMessage, Node
from kotaemon.llms import BaseLLM

from .citation import CitationPipeline


def _mindmap_pipeline(self):
    from ktem.reasoning.prompt_optimization.mindmap import CreateMindmapPipeline

    return CreateMindmapPipeline(llm=self.llm)


class AnswerWithContextPipeline(BaseComponent):
    llm: BaseLLM
    citation_pipeline: CitationPipeline = Node(default_callback=lambda self: CitationPipeline(llm=self.llm))
    create_mindmap_pipeline = Node(default_callback=_mindmap_pipeline)
    enable_citation: bool = True
    enable_mindmap: bool = False

    def get_prompt(self, question: str, evidence: str) -> str:
        return f"Use the context to answer.\nContext: {evidence}\nQuestion: {question}"

    def invoke(self, question: str, evidence: str, **kwargs) -> Document:
        raise NotImplementedError

    def run(self, question: str, evidence: str, **kwargs) -> Document:
        return self.invoke(question, evidence, **kwargs)

    def stream(self, question: str, evidence: str, **kwargs):
        results: dict = {}

        def cite():
            results["citation"] = self.citation_pipeline(context=evidence, question=question)

        def mindmap():
            results["mindmap"] = self.create_mindmap_pipeline(context=evidence, question=question)

        threads = []
        if evidence and self.enable_citation:
            threads.append(threading.Thread(target=cite))
        if evidence and self.enable_mindmap:
            threads.append(threading.Thread(target=mindmap))
        for thread in threads:
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
        for thread in threads:
            thread.join()
        return Document(
            content=output, metadata={"citation": results.get("citation"), "mindmap": results.get("mindmap")}
        )
