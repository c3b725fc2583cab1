"""Stand-in for `libs/kotaemon/kotaemon/indices/__init__.py` (Kotaemon v0.11.3): indexing and retrieval."""

from .base import BaseIndexing, BaseRetrieval, DocTransformer
from .vectorindex import VectorIndexing, VectorRetrieval

__all__ = ["BaseIndexing", "BaseRetrieval", "DocTransformer", "VectorIndexing", "VectorRetrieval"]
