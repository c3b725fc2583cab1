"""Indexing spans: `index {name}`, with the items handed in and the chunks stored; the `kotaemon.indexing.*` metrics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ... import attributes as attr
from ..instruments import Instruments
from .step import Attributes, Fields, Step


@dataclass(slots=True, kw_only=True)
class IndexingStep(Step):
    """An indexing pipeline or ingestor: files or documents in, an index updated."""

    KIND: ClassVar[str] = attr.KIND_INDEXING
    VERB: ClassVar[str | None] = "index"

    documents: int | None = None
    """Items (texts, documents, files) handed to the step; at the end, the documents it indexed, where it says."""
    chunks: int | None = None
    """Chunks the file was split into and stored (ktem's per-file pipeline)."""
    failed_count: int | None = None
    """Files the step reported as failed (ktem indexes file by file and returns the failures as values)."""

    START_ATTRIBUTES: ClassVar[Fields] = (("documents", attr.KOTAEMON_INPUT_COUNT),)
    END_ATTRIBUTES: ClassVar[Fields] = (
        ("documents", attr.KOTAEMON_DOCUMENT_COUNT),
        ("chunks", attr.KOTAEMON_INDEXING_CHUNK_COUNT),
        ("failed_count", attr.KOTAEMON_INDEXING_FAILED_COUNT),
    )

    def _record_metrics(self, instruments: Instruments, labels: Attributes, error_name: str | None) -> None:
        if self.documents is not None:
            instruments.indexing_documents.add(self.documents, labels)
        if self.chunks is not None:
            instruments.indexing_chunks.add(self.chunks, labels)
