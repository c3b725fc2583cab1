"""Stand-in for `libs/kotaemon/kotaemon/embeddings/__init__.py` (Kotaemon v0.11.3): the embedding models."""

from .base import BaseEmbeddings
from .fastembed import FastEmbedEmbeddings
from .langchain_based import LCOpenAIEmbeddings
from .openai import OpenAIEmbeddings

__all__ = ["BaseEmbeddings", "FastEmbedEmbeddings", "LCOpenAIEmbeddings", "OpenAIEmbeddings"]
