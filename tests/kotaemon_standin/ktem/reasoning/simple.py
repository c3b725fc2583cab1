"""Stand-in for `libs/ktem/ktem/reasoning/simple.py` (Kotaemon v0.11.3): the question-answering reasoning pipeline.

`FullQAPipeline.stream(message, conv_id, history)` retrieves with every retriever (through `_prepare_child`), has the
first retriever score the documents for the UI in a thread while the answer streams (when there is evidence), and
yields the answer with its citations and mind map.
"""

from __future__ import annotations

import threading

from kotaemon.base import Document, Node
from kotaemon.indices.qa.citation_qa import AnswerWithContextPipeline

from .base import BaseReasoning


class FullQAPipeline(BaseReasoning):
    """Question answering over the selected files (ktem's "simple" reasoning)."""

    answering_pipeline: AnswerWithContextPipeline = Node()

    @classmethod
    def get_info(cls) -> dict:
        return {"id": "simple", "name": "Simple QA", "description": "Simple RAG-based question answering"}

    @classmethod
    def get_pipeline(cls, settings: dict, states: dict, retrievers: list | None = None):
        raise NotImplementedError

    def retrieve(self, message: str, history: list) -> tuple[list, list]:
        docs: list = []
        for index, retriever in enumerate(self.retrievers):
            docs.extend(self._prepare_child(retriever, f"retriever_{index}")(text=message))
        info = [Document(channel="info", content=f"<details>{d.text}</details>") for d in docs]
        return docs, info

    def run(self, message: str, conv_id: str, history: list, **kwargs):
        raise NotImplementedError

    def stream(self, message: str, conv_id: str, history: list, **kwargs):
        docs, infos = self.retrieve(message, history)
        yield from infos
        evidence = "\n".join(d.text for d in docs)

        def generate_relevant_scores():
            nonlocal docs
            docs = self.retrievers[0].generate_relevant_scores(message, docs)

        scoring = threading.Thread(target=generate_relevant_scores) if evidence and self.retrievers else None
        if scoring is not None:
            scoring.start()
        answer = yield from self.answering_pipeline.stream(
            question=message, history=history, evidence=evidence, evidence_mode=0, images=[], conv_id=conv_id
        )
        if scoring is not None:
            scoring.join()
        mindmap = answer.metadata.get("mindmap")
        if mindmap is not None:
            yield Document(channel="info", content=f'<div class="mindmap">{mindmap.text}</div>')
        return answer
