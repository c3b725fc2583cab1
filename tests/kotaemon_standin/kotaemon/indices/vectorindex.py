"""Stand-in for `libs/kotaemon/kotaemon/indices/vectorindex.py` (Kotaemon v0.11.3): vector indexing and retrieval over
the in-memory stores, with Kotaemon's call layout.
"""

from __future__ import annotations

import threading
from typing import Optional, Sequence

from kotaemon.base import Document, Param, RetrievedDocument
from kotaemon.embeddings import BaseEmbeddings
from kotaemon.storages import BaseDocumentStore, BaseVectorStore

from .base import BaseIndexing, BaseRetrieval
from .rankings import BaseReranking


class VectorIndexing(BaseIndexing):
    cache_dir: Optional[str] = Param(None)
    vector_store: BaseVectorStore
    doc_store: Optional[BaseDocumentStore] = None
    embedding: BaseEmbeddings
    count_: int = 0

    def to_retrieval_pipeline(self, *args, **kwargs):
        return VectorRetrieval(
            vector_store=self.vector_store, doc_store=self.doc_store, embedding=self.embedding, **kwargs
        )

    def add_to_vectorstore(self, docs: list[Document]):
        embeddings = self.embedding(docs)
        self.vector_store.add(embeddings=embeddings, ids=[d.doc_id for d in docs])

    def add_to_docstore(self, docs: list[Document]):
        if self.doc_store:
            self.doc_store.add(docs)

    def run(self, text):
        items = text if isinstance(text, list) else [text]
        docs = [t if isinstance(t, Document) else Document(content=t) for t in items]
        self.add_to_vectorstore(docs)
        self.add_to_docstore(docs)
        self.count_ += len(docs)


class VectorRetrieval(BaseRetrieval):
    vector_store: BaseVectorStore
    doc_store: Optional[BaseDocumentStore] = None
    embedding: BaseEmbeddings
    rerankers: Sequence[BaseReranking] = []
    top_k: int = 5
    first_round_top_k_mult: int = 10
    retrieval_mode: str = "hybrid"

    def run(self, text: str | Document, top_k: Optional[int] = None, **kwargs) -> list[RetrievedDocument]:
        if top_k is None:
            top_k = self.top_k
        do_extend = kwargs.pop("do_extend", False)
        kwargs.pop("thumbnail_count", None)
        scope = kwargs.pop("scope", None)
        first_round = top_k * self.first_round_top_k_mult if do_extend else top_k
        query = text.text if isinstance(text, Document) else text
        result: list[RetrievedDocument] = []

        if self.retrieval_mode == "vector":
            emb = self.embedding(query)[0].embedding
            _, scores, ids = self.vector_store.query(embedding=emb, top_k=first_round, ids=scope, **kwargs)
            docs = self.doc_store.get(ids) if self.doc_store else []
            result = [RetrievedDocument(d, score=s) for d, s in zip(docs, scores, strict=False)]
        else:
            hits: dict[str, list] = {}

            def query_vectorstore():
                emb = self.embedding(query)[0].embedding
                _, scores, ids = self.vector_store.query(embedding=emb, top_k=first_round, ids=scope, **kwargs)
                hits["vector"] = list(zip(self.doc_store.get(ids), scores, strict=False)) if self.doc_store else []

            def query_docstore():
                hits["text"] = [(d, -1.0) for d in self.doc_store.query(query, top_k=first_round, doc_ids=scope)]

            threads = []
            if self.retrieval_mode == "hybrid":
                threads.append(threading.Thread(target=query_vectorstore))
            threads.append(threading.Thread(target=query_docstore))
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            seen: set[str] = set()
            for doc, score in hits.get("vector", []) + hits.get("text", []):
                if doc.doc_id not in seen:
                    seen.add(doc.doc_id)
                    result.append(RetrievedDocument(doc, score=score))

        for reranker in self.rerankers:
            result = reranker.run(documents=result, query=query)
        return result[:top_k]
