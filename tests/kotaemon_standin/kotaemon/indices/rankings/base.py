from __future__ import annotations

from abc import abstractmethod

from kotaemon.base import BaseComponent, Document


class BaseReranking(BaseComponent):
    """The re-ranker base of `kotaemon.indices.rankings`, unrelated to `kotaemon.rerankings.BaseReranking`."""

    @abstractmethod
    def run(self, documents: list[Document], query: str) -> list[Document]:
        """Re-rank the documents for the query."""
