"""Stand-in for `libs/kotaemon/kotaemon/indices/rankings/cohere.py` (Kotaemon v0.11.3): a Cohere re-ranker writing
`metadata["reranking_score"]`; scores by word overlap instead of calling Cohere.
"""

from __future__ import annotations

import os

from kotaemon.base import Document, Param

from .base import BaseReranking


class CohereReranking(BaseReranking):
    model_name: str = Param("rerank-v4.0-fast")
    cohere_api_key: str = Param(os.environ.get("COHERE_API_KEY", ""))
    use_key_from_ktem: bool = False

    def run(self, documents: list[Document], query: str) -> list[Document]:
        words = set(query.lower().split())
        for doc in documents:
            doc.metadata["reranking_score"] = len(words & set(doc.text.lower().split())) / (len(words) or 1)
        return sorted(documents, key=lambda d: d.metadata["reranking_score"], reverse=True)
