"""Stand-in for `libs/kotaemon/kotaemon/indices/splitters/__init__.py` (Kotaemon v0.11.3): splitters: `TokenSplitter`
cuts documents into chunks of words (Kotaemon wraps llama-index's splitters).
"""

from __future__ import annotations

from kotaemon.base import Document

from ..base import DocTransformer


class BaseSplitter(DocTransformer):
    """Represent base splitter class"""


class TokenSplitter(BaseSplitter):
    chunk_size: int = 1024
    chunk_overlap: int = 20
    separator: str = " "

    def run(self, documents: list[Document], **kwargs) -> list[Document]:
        step = max(1, self.chunk_size - self.chunk_overlap)
        chunks = []
        for document in documents:
            words = document.text.split(self.separator)
            for start in range(0, len(words), step):
                text = self.separator.join(words[start : start + self.chunk_size])
                chunks.append(Document(content=text, metadata=dict(document.metadata)))
        return chunks
