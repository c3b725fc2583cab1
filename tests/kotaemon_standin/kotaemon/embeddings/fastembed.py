"""Stand-in for `libs/kotaemon/kotaemon/embeddings/fastembed.py` (Kotaemon v0.11.3): a local embedding model; here a
deterministic hash embedding. `ainvoke` delegates to `invoke`.
"""

from __future__ import annotations

import hashlib

from kotaemon.base import DocumentWithEmbedding, Param

from .base import BaseEmbeddings


def hash_vector(text: str, dimensions: int = 8) -> list[float]:
    """A deterministic unit-ish vector for a text: bag of words hashed into `dimensions` buckets."""
    vector = [0.0] * dimensions
    for word in text.lower().split():
        vector[int(hashlib.md5(word.encode()).hexdigest(), 16) % dimensions] += 1.0
    return vector


class FastEmbedEmbeddings(BaseEmbeddings):
    model_name: str = Param("BAAI/bge-small-en-v1.5")
    batch_size: int = Param(256)
    parallel: int | None = Param(None)

    @Param.auto()
    def client_(self):
        raise AssertionError("auto Params (a model load in Kotaemon) must never be read by instrumentation")

    def invoke(self, text, *args, **kwargs) -> list[DocumentWithEmbedding]:
        return [DocumentWithEmbedding(embedding=hash_vector(d.text), content=d) for d in self.prepare_input(text)]

    async def ainvoke(self, text, *args, **kwargs) -> list[DocumentWithEmbedding]:
        return self.invoke(text, *args, **kwargs)
