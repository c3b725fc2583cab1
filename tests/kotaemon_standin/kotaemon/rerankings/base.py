from __future__ import annotations

from abc import abstractmethod

from kotaemon.base import BaseComponent, Document


class BaseReranking(BaseComponent):
    @abstractmethod
    def run(self, documents: list[Document], query: str) -> list[Document]:
        """Re-rank the documents for the query."""
