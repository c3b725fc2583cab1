"""Stand-in for `libs/kotaemon/kotaemon/indices/base.py` (Kotaemon v0.11.3): `DocTransformer`, `BaseIndexing`,
`BaseRetrieval`.
"""

from __future__ import annotations

from abc import abstractmethod

from kotaemon.base import BaseComponent, Document, RetrievedDocument


class DocTransformer(BaseComponent):
    @abstractmethod
    def run(self, documents: list[Document], **kwargs) -> list[Document]: ...


class BaseIndexing(BaseComponent):
    def to_retrieval_pipeline(self, **kwargs):
        raise NotImplementedError

    def to_qa_pipeline(self, **kwargs):
        raise NotImplementedError


class BaseRetrieval(BaseComponent):
    @abstractmethod
    def run(self, *args, **kwargs) -> list[RetrievedDocument]: ...
