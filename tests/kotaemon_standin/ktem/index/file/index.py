"""Stand-in for `libs/ktem/ktem/index/file/index.py` (Kotaemon v0.11.3): ktem's file index: an id and a name, and the
resources it hands to every retriever it makes.

ktem keeps an index's files and chunks in SQL tables named after the index id (`index__{id}__source`,
`index__{id}__index`), a vector store and a document store; a retriever knows its index only through them. Here the
tables are plain classes with those table names, and the stores are in memory.
"""

from __future__ import annotations

from typing import Any, Optional

from kotaemon.storages import InMemoryDocumentStore, InMemoryVectorStore

from .pipelines import DocumentRetrievalPipeline


class FileIndex:
    """One file index of the app (ktem lists them in its `ktem__index` table)."""

    def __init__(self, app: Any, id: int, name: str, config: dict) -> None:
        self.id = id
        self.name = name
        self.config = config
        self._resources = {
            "Source": type("SourceTable", (), {"__tablename__": f"index__{self.id}__source"}),
            "Index": type("IndexTable", (), {"__tablename__": f"index__{self.id}__index"}),
        }
        self._vs = InMemoryVectorStore()
        self._docstore = InMemoryDocumentStore()
        self._fs_path = f"file_storage/index_{self.id}"

    def get_retriever_pipelines(self, settings: dict, user_id: Any, selected: Optional[list] = None) -> list:
        """One retriever per retriever class, given the index's resources after it is built, as ktem does."""
        obj = DocumentRetrievalPipeline(embedding=self.config["embedding"])
        obj.Source = self._resources["Source"]
        obj.Index = self._resources["Index"]
        obj.VS = self._vs
        obj.DS = self._docstore
        obj.FSPath = self._fs_path
        obj.user_id = user_id
        return [obj]
