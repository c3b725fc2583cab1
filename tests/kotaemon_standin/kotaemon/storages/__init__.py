"""Stand-in for `libs/kotaemon/kotaemon/storages/__init__.py` (Kotaemon v0.11.3): stores: plain ABCs (not components)
and small in-memory implementations.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any

from kotaemon.base import Document


class BaseVectorStore(ABC):
    @abstractmethod
    def add(self, embeddings, metadatas=None, ids=None) -> list[str]: ...

    @abstractmethod
    def delete(self, ids: list[str], **kwargs) -> None: ...

    @abstractmethod
    def query(self, embedding: list[float], top_k: int = 1, ids=None, **kwargs) -> tuple[list, list, list]: ...


class BaseDocumentStore(ABC):
    @abstractmethod
    def add(self, docs, ids=None, **kwargs) -> None: ...

    @abstractmethod
    def get(self, ids) -> list[Document]: ...

    @abstractmethod
    def query(self, query: str, top_k: int = 10, doc_ids=None) -> list[Document]: ...

    @abstractmethod
    def delete(self, ids) -> None: ...


def _cosine(a: list[float], b: list[float]) -> float:
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return sum(x * y for x, y in zip(a, b, strict=False)) / norm if norm else 0.0


class InMemoryVectorStore(BaseVectorStore):
    def __init__(self) -> None:
        self._vectors: dict[str, list[float]] = {}

    def add(self, embeddings, metadatas=None, ids=None) -> list[str]:
        vectors = [getattr(e, "embedding", e) for e in embeddings]
        ids = ids or [getattr(e, "doc_id", str(i)) for i, e in enumerate(embeddings)]
        self._vectors.update(zip(ids, vectors, strict=False))
        return list(ids)

    def delete(self, ids: list[str], **kwargs) -> None:
        for i in ids:
            self._vectors.pop(i, None)

    def query(self, embedding: list[float], top_k: int = 1, ids=None, **kwargs) -> tuple[list, list, list]:
        scored = sorted(
            ((_cosine(embedding, v), i) for i, v in self._vectors.items() if not ids or i in ids), reverse=True
        )[:top_k]
        return [], [s for s, _ in scored], [i for _, i in scored]


class InMemoryDocumentStore(BaseDocumentStore):
    def __init__(self) -> None:
        self._docs: dict[str, Document] = {}

    def add(self, docs, ids=None, **kwargs) -> None:
        docs = docs if isinstance(docs, list) else [docs]
        for doc_id, doc in zip(ids or [d.doc_id for d in docs], docs, strict=False):
            self._docs[doc_id] = doc

    def get(self, ids) -> list[Document]:
        ids = [ids] if isinstance(ids, str) else ids
        return [self._docs[i] for i in ids if i in self._docs]

    def query(self, query: str, top_k: int = 10, doc_ids=None) -> list[Document]:
        words = set(query.lower().split())
        hits = [
            d for i, d in self._docs.items() if (not doc_ids or i in doc_ids) and words & set(d.text.lower().split())
        ]
        return hits[:top_k]

    def delete(self, ids) -> None:
        for i in [ids] if isinstance(ids, str) else ids:
            self._docs.pop(i, None)

    def count(self) -> int:
        return len(self._docs)

    def info(self) -> dict[str, Any]:
        return {"count": len(self._docs)}
