"""Re-ranking spans: `rerank {name}`, with the documents kept and the scores given; the `kotaemon.rerank.*` metrics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ... import attributes as attr
from ..instruments import Instruments
from .step import Attributes, DocumentsStep, Fields


@dataclass(slots=True, kw_only=True)
class RerankStep(DocumentsStep):
    """A re-ranker ordering documents against a query and keeping the best (scores are the re-ranker's)."""

    KIND: ClassVar[str] = attr.KIND_RERANKER
    VERB: ClassVar[str | None] = "rerank"

    model: str | None = None
    top_k: int | float | None = None
    input_count: int | None = None
    """Documents handed to the re-ranker."""
    query: str | None = None
    """Content: the query ranked against."""
    score_name: str | None = None
    """Which score the re-ranker gave the returned documents (None for a re-ranker that only filters): their listed
    scores are that one, and the relevance metric records them."""

    START_ATTRIBUTES: ClassVar[Fields] = (
        ("model", attr.GEN_AI_REQUEST_MODEL),
        ("top_k", attr.GEN_AI_REQUEST_TOP_K),
        ("input_count", attr.KOTAEMON_RERANK_INPUT_COUNT),
    )
    END_ATTRIBUTES: ClassVar[Fields] = (
        *DocumentsStep.END_ATTRIBUTES,
        ("score_name", attr.KOTAEMON_RERANK_SCORE_NAME),
    )
    START_CONTENT: ClassVar[Fields] = (("query", attr.KOTAEMON_RERANK_QUERY),)

    def _record_metrics(self, instruments: Instruments, labels: Attributes, error_name: str | None) -> None:
        if self.documents is not None:
            instruments.rerank_documents.record(self.documents, labels)
        if self.score_name is None:
            return
        scores = [score for _, score in self._identified() if score is not None]
        if not scores:
            return
        labels = {**labels, attr.KOTAEMON_RERANK_SCORE_NAME: self.score_name}
        top = max(range(len(scores)), key=scores.__getitem__)
        other = {**labels, attr.KOTAEMON_RERANK_DOCUMENT_RANK: attr.RANK_OTHER}
        for position, score in enumerate(scores):
            if position != top:
                instruments.rerank_relevance.record(score, other)
        instruments.rerank_relevance.record(scores[top], {**labels, attr.KOTAEMON_RERANK_DOCUMENT_RANK: attr.RANK_TOP})
