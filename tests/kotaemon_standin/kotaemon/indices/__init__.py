from .base import BaseIndexing, BaseRetrieval, DocTransformer
from .vectorindex import VectorIndexing, VectorRetrieval

__all__ = ["BaseIndexing", "BaseRetrieval", "DocTransformer", "VectorIndexing", "VectorRetrieval"]
