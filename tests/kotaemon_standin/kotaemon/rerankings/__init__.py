from .base import BaseReranking
from .cohere import CohereReranking

__all__ = ["BaseReranking", "CohereReranking"]
