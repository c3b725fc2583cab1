"""Stand-in for `libs/kotaemon/kotaemon/rerankings/base.py` (Kotaemon v0.11.3): the re-ranker base of
`kotaemon.rerankings`, unrelated to `kotaemon.indices.rankings`'.
"""

from __future__ import annotations

from abc import abstractmethod

from kotaemon.base import BaseComponent, Document


class BaseReranking(BaseComponent):
    @abstractmethod
    def run(self, documents: list[Document], query: str) -> list[Document]:
        """Re-rank the documents for the query."""
