"""Stand-in for `libs/ktem/ktem/index/file/pipelines.py` (Kotaemon v0.11.3): retrieval over the selected files (with
the index's re-rankers, and the relevance scorer the reasoning pipeline calls), and indexing file by file (progress
as values).

Stores are kept in memory (ktem uses SQL tables, a vector store and a document store).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

from kotaemon.base import BaseComponent, Document, Node, Param, RetrievedDocument
from kotaemon.embeddings import BaseEmbeddings
from kotaemon.indices import VectorIndexing, VectorRetrieval
from kotaemon.indices.rankings import BaseReranking, LLMReranking
from kotaemon.indices.splitters import TokenSplitter

from .base import BaseFileIndexIndexing, BaseFileIndexRetriever


class DocumentRetrievalPipeline(BaseFileIndexRetriever):
    """Retrieves from the files the user selected (nothing when none is selected)."""

    embedding: BaseEmbeddings
    rerankers: Sequence[BaseReranking] = []
    llm_scorer: Optional[LLMReranking] = None
    """Scores the documents for the UI after retrieval (ktem's `get_pipeline` gives `LLMTrulensScoring()` when LLM
    re-ranking is on)."""
    top_k: int = 5
    retrieval_mode: str = "vector"

    @Node.auto(depends_on=["embedding", "VS", "DS"])
    def vector_retrieval(self) -> VectorRetrieval:
        return VectorRetrieval(
            embedding=self.embedding,
            vector_store=self.VS,
            doc_store=self.DS,
            retrieval_mode="vector",
            rerankers=self.rerankers,
        )

    def run(self, text: str, doc_ids: Optional[list[str]] = None, *args, **kwargs) -> list[RetrievedDocument]:
        if not doc_ids:
            return []
        docs = self.vector_retrieval(text=text, top_k=self.top_k)
        return [doc for doc in docs if doc.metadata.get("file_id") in doc_ids]

    def generate_relevant_scores(self, query: str, documents: list[RetrievedDocument]) -> list[RetrievedDocument]:
        return documents if not self.llm_scorer else self.llm_scorer(documents=documents, query=query)


class IndexPipeline(BaseComponent):
    """Indexes one file: read it, split it, store the chunks, embed them (optionally in a thread)."""

    splitter: Optional[TokenSplitter] = None
    chunk_batch_size: int = 200
    Source = Param(help="The files indexed so far: file name -> file id (ktem's Source table)")
    VS = Param(help="The VectorStore")
    DS = Param(help="The DocStore")
    user_id = Param(help="The user id")
    run_embedding_in_thread: bool = False
    embedding: BaseEmbeddings

    @Node.auto(depends_on=["embedding", "VS", "DS"])
    def vector_indexing(self) -> VectorIndexing:
        return VectorIndexing(vector_store=self.VS, doc_store=self.DS, embedding=self.embedding)

    def load(self, file_path: Path, extra_info: dict) -> list[Document]:
        return [Document(content=file_path.read_text(), metadata=dict(extra_info))]

    def handle_docs(self, docs: list[Document], file_id: str, file_name: str):
        chunks = self.splitter(docs) if self.splitter else docs
        self.vector_indexing.add_to_docstore(chunks)
        yield Document(f" => [{file_name}] Processed {len(chunks)} chunks", channel="debug")

        def insert_chunks_to_vectorstore():
            for start in range(0, len(chunks), self.chunk_batch_size):
                batch = chunks[start : start + self.chunk_batch_size]
                self.vector_indexing.add_to_vectorstore(batch)
                yield Document(f" => [{file_name}] Created embedding for {start + len(batch)} chunks", channel="debug")

        if self.run_embedding_in_thread:
            threading.Thread(target=lambda: list(insert_chunks_to_vectorstore())).start()
        else:
            yield from insert_chunks_to_vectorstore()
        return len(chunks)

    def run(self, file_path: str | Path, reindex: bool, **kwargs) -> tuple[str, list[Document]]:
        raise NotImplementedError

    def stream(self, file_path: str | Path, reindex: bool, **kwargs):
        file_path = Path(file_path)
        if self.Source.get(file_path.name) and not reindex:
            raise ValueError(
                f"File {file_path.name} already indexed. Please rerun with reindex=True to force reindexing."
            )
        file_id = uuid.uuid4().hex
        extra_info = {"file_id": file_id, "file_name": file_path.name}
        yield Document(f" => Converting {file_path.name} to text", channel="debug")
        docs = self.load(file_path, extra_info)
        yield Document(f" => Converted {file_path.name} to text", channel="debug")
        yield from self.handle_docs(docs, file_id, file_path.name)
        self.Source[file_path.name] = file_id
        yield Document(f" => Finished indexing {file_path.name}", channel="debug")
        return file_id, docs


class IndexDocumentPipeline(BaseFileIndexIndexing):
    """Indexes files one by one; a file that fails is reported in the results, not raised."""

    embedding: BaseEmbeddings
    run_embedding_in_thread: bool = False

    def route(self, file_path: str | Path) -> IndexPipeline:
        return IndexPipeline(
            Source=self.Source,
            VS=self.VS,
            DS=self.DS,
            embedding=self.embedding,
            user_id=self.user_id,
            splitter=TokenSplitter(chunk_size=self.chunk_size or 64, chunk_overlap=self.chunk_overlap or 0),
            run_embedding_in_thread=self.run_embedding_in_thread,
        )

    def run(self, file_paths: str | Path | list[str | Path], *args, **kwargs):
        raise NotImplementedError

    def stream(self, file_paths: str | Path | list[str | Path], reindex: bool = False, **kwargs):
        if not isinstance(file_paths, list):
            file_paths = [file_paths]
        file_ids: list[str | None] = []
        errors: list[str | None] = []
        all_docs: list[Document] = []
        for index, file_path in enumerate(file_paths):
            file_name = Path(file_path).name
            yield Document(content=f"Indexing [{index + 1}/{len(file_paths)}]: {file_name}", channel="debug")
            try:
                file_id, docs = yield from self.route(file_path).stream(file_path, reindex=reindex, **kwargs)
                all_docs.extend(docs)
                file_ids.append(file_id)
                errors.append(None)
                status = {"file_path": file_path, "file_name": file_name, "status": "success"}
            except Exception as error:
                file_ids.append(None)
                errors.append(str(error))
                status = {"file_path": file_path, "file_name": file_name, "status": "failed", "message": str(error)}
            yield Document(content=status, channel="index")
        return file_ids, errors, all_docs
