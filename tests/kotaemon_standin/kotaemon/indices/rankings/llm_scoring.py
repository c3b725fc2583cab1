"""Stand-in for `libs/kotaemon/kotaemon/indices/rankings/llm_scoring.py` (Kotaemon v0.11.3).

`LLMScoring` asks the LLM about each document in a thread pool, as `LLMReranking` does, keeps every document, and
writes `metadata["llm_reranking_score"]`: the probability of the answer from its token log-probabilities (one minus it
when the answer is no). Upstream parses the answer with LangChain's `BooleanOutputParser`; here a plain yes/no check.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

from kotaemon.base import Document

from .llm import LLMReranking


class LLMScoring(LLMReranking):
    def run(self, documents: list[Document], query: str) -> list[Document]:
        llm = self.get_from_path("llm") if self.fl.in_run else self.llm
        prompts = [self.prompt_template.populate(question=query, context=d.get_content()) for d in documents]
        if self.concurrent:
            with ThreadPoolExecutor() as executor:
                results = list(executor.map(llm, prompts))
        else:
            results = [llm(p) for p in prompts]
        for result, doc in zip(results, documents, strict=False):
            logprobs = result.logprobs or [0.0]
            score = math.exp(sum(logprobs) / len(logprobs))
            include = "no" not in result.text.lower().split()
            doc.metadata["llm_reranking_score"] = score if include else 1 - score
        return list(documents)
