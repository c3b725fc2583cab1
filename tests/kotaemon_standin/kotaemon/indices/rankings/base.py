"""Stand-in for `libs/kotaemon/kotaemon/indices/rankings/base.py` (Kotaemon v0.11.3): the re-ranker base of
`kotaemon.indices.rankings`.
"""

from __future__ import annotations

from abc import abstractmethod

from kotaemon.base import BaseComponent, Document


class BaseReranking(BaseComponent):
    """The re-ranker base of `kotaemon.indices.rankings`, unrelated to `kotaemon.rerankings.BaseReranking`."""

    @abstractmethod
    def run(self, documents: list[Document], query: str) -> list[Document]:
        """Re-rank the documents for the query."""
