"""Retrieval spans: `retrieval {name}` (CLIENT), with the documents found; `kotaemon.retrieval.*` metrics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from opentelemetry.trace import SpanKind

from ... import attributes as attr
from ..instruments import Instruments
from .step import Attributes, DocumentsStep, Fields


@dataclass(slots=True, kw_only=True)
class RetrievalStep(DocumentsStep):
    """A retriever searching for documents (a vector store, a web search, a LangChain retriever)."""

    KIND: ClassVar[str] = attr.KIND_RETRIEVER
    OPERATION: ClassVar[str | None] = attr.OPERATION_RETRIEVAL
    SPAN_KIND: ClassVar[SpanKind] = SpanKind.CLIENT

    top_k: int | None = None
    """How many documents it was asked for."""
    mode: str | None = None
    """How it searched: vector, text or hybrid."""
    data_source_id: str | None = None
    """The data source it reads, as the app identifies it (ktem's file index id)."""
    query: str | None = None
    """Content: the query text."""
    nothing_selected: bool = False
    """The app gave it nothing to search (ktem: no file of its index selected): an empty result is then a skip."""

    START_ATTRIBUTES: ClassVar[Fields] = (
        ("top_k", attr.GEN_AI_RETRIEVAL_TOP_K),
        ("mode", attr.KOTAEMON_RETRIEVAL_MODE),
        ("data_source_id", attr.GEN_AI_DATA_SOURCE_ID),
    )
    START_CONTENT: ClassVar[Fields] = (("query", attr.GEN_AI_RETRIEVAL_QUERY_TEXT),)

    @property
    def skipped(self) -> bool:
        """It had nothing to search and found nothing: not a retrieval that came back empty."""
        return self.nothing_selected and self.documents == 0

    def _end_attributes(self, values: Attributes) -> None:
        DocumentsStep._end_attributes(self, values)
        if self.skipped:
            values[attr.KOTAEMON_RETRIEVAL_SKIPPED] = True

    def record_metrics(self, instruments: Instruments, duration: float, error_name: str | None) -> None:
        """A skipped retrieval is left out of every metric: it would count as empty and fast when nothing ran."""
        if not self.skipped or error_name is not None:
            DocumentsStep.record_metrics(self, instruments, duration, error_name)

    def answer_source(self) -> str | None:
        return self.data_source_id if self.documents else None

    def _record_metrics(self, instruments: Instruments, labels: Attributes, error_name: str | None) -> None:
        if self.documents is None:
            return
        instruments.retrieval_documents.record(self.documents, labels)
        if self.documents == 0 and error_name is None:
            instruments.retrieval_empty.add(1, labels)
