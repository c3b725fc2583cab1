"""Stand-in for `libs/ktem/ktem/index/file/base.py` (Kotaemon v0.11.3): the bases of the file index's retrievers and
indexing pipelines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from kotaemon.base import BaseComponent, Document, Param


class BaseFileIndexRetriever(BaseComponent):
    """The base of ktem's file index retrievers; the app sets the user and the selected files."""

    Source = Param(help="The SQLAlchemy Source table")
    Index = Param(help="The SQLAlchemy Index table")
    VS = Param(help="The VectorStore")
    DS = Param(help="The DocStore")
    FSPath = Param(help="The file storage path")
    user_id = Param(help="The user id")

    @classmethod
    def get_user_settings(cls) -> dict:
        return {}

    @classmethod
    def get_pipeline(cls, user_settings: dict, index_settings: dict, selected: Optional[list] = None):
        raise NotImplementedError


class BaseFileIndexIndexing(BaseComponent):
    """The base of ktem's file indexing pipelines: `stream(file_paths)` yields progress, returns the results."""

    Source = Param(help="The SQLAlchemy Source table")
    Index = Param(help="The SQLAlchemy Index table")
    VS = Param(help="The VectorStore")
    DS = Param(help="The DocStore")
    FSPath = Param(help="The file storage path")
    user_id = Param(help="The user id")
    private = Param(False, help="Whether this is private index")
    chunk_size = Param(help="Chunk size for this index")
    chunk_overlap = Param(help="Chunk overlap for this index")

    def run(self, file_paths: str | Path | list[str | Path], *args, **kwargs):
        raise NotImplementedError

    def stream(self, file_paths: str | Path | list[str | Path], *args, **kwargs):
        raise NotImplementedError

    @classmethod
    def get_pipeline(cls, user_settings: dict, index_settings: dict):
        raise NotImplementedError

    @classmethod
    def get_user_settings(cls) -> dict:
        return {}

    def stream_doc(self, doc: Document):
        yield doc
