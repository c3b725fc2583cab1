from .base import BaseReranking
from .cohere import CohereReranking
from .llm import LLMReranking

__all__ = ["BaseReranking", "CohereReranking", "LLMReranking"]
