"""Stand-in for `libs/kotaemon/kotaemon/embeddings/base.py` (Kotaemon v0.11.3): `BaseEmbeddings` (`run` calls
`invoke`).
"""

from __future__ import annotations

from kotaemon.base import BaseComponent, Document, DocumentWithEmbedding


class BaseEmbeddings(BaseComponent):
    def run(self, text, *args, **kwargs) -> list[DocumentWithEmbedding]:
        return self.invoke(text, *args, **kwargs)

    def invoke(self, text, *args, **kwargs) -> list[DocumentWithEmbedding]:
        raise NotImplementedError

    async def ainvoke(self, text, *args, **kwargs) -> list[DocumentWithEmbedding]:
        raise NotImplementedError

    def prepare_input(self, text) -> list[Document]:
        if isinstance(text, (str, Document)):
            return [Document(content=text)]
        return [Document(content=t) if isinstance(t, str) else t for t in text]
