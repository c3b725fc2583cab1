"""The question-answering reasoning pipeline: retrieve, prepare evidence, stream the answer with citations."""

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

        def relevance():
            for retriever in self.retrievers[:1]:
                retriever.generate_relevant_scores(message, docs)

        scoring = threading.Thread(target=relevance)
        scoring.start()
        answer = yield from self.answering_pipeline.stream(
            question=message, history=history, evidence=evidence, evidence_mode=0, images=[], conv_id=conv_id
        )
        scoring.join()
        mindmap = answer.metadata.get("mindmap")
        if mindmap is not None:
            yield Document(channel="info", content=f'<div class="mindmap">{mindmap.text}</div>')
        return answer
