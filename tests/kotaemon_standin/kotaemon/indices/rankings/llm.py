"""Stand-in for `libs/kotaemon/kotaemon/indices/rankings/llm.py` (Kotaemon v0.11.3): an LLM re-ranker: asks the LLM
about each document in a thread pool and keeps the ones it says yes to.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from kotaemon.base import Document, Param
from kotaemon.llms import BaseLLM, PromptTemplate

from .base import BaseReranking

RERANK_PROMPT_TEMPLATE = (
    "Is the context relevant to the question? Answer YES or NO.\nQuestion: {question}\nContext: {context}"
)


class LLMReranking(BaseReranking):
    llm: BaseLLM
    prompt_template: PromptTemplate = Param(default=PromptTemplate(RERANK_PROMPT_TEMPLATE))
    top_k: int = 3
    concurrent: bool = True

    def run(self, documents: list[Document], query: str) -> list[Document]:
        llm = self.get_from_path("llm") if self.fl.in_run else self.llm
        prompts = [self.prompt_template.populate(question=query, context=d.get_content()) for d in documents]
        if self.concurrent:
            with ThreadPoolExecutor() as executor:
                answers = list(executor.map(llm, prompts))
        else:
            answers = [llm(p) for p in prompts]
        kept = [d for d, a in zip(documents, answers, strict=False) if "no" not in a.text.lower().split()]
        return kept[: self.top_k]
