"""Stand-in for `libs/kotaemon/kotaemon/rerankings/cohere.py` (Kotaemon v0.11.3): a reranker of the
`kotaemon.rerankings` family; scores by word overlap instead of calling Cohere.
"""

from __future__ import annotations

import os

from kotaemon.base import Document, Param

from .base import BaseReranking


def overlap(query: str, text: str) -> float:
    words = set(query.lower().split())
    return len(words & set(text.lower().split())) / (len(words) or 1)


class CohereReranking(BaseReranking):
    model_name: str = Param("rerank-v4.0-fast")
    cohere_api_key: str = Param(os.environ.get("COHERE_API_KEY", None))
    base_url: str = Param(None)

    def run(self, documents: list[Document], query: str) -> list[Document]:
        for doc in documents:
            doc.metadata["reranking_score"] = overlap(query, doc.text)
        return sorted(documents, key=lambda d: d.metadata["reranking_score"], reverse=True)
