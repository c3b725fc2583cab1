from .base import LLM
from .langchain_based import LCCompletionMixin, OpenAI

__all__ = ["LLM", "LCCompletionMixin", "OpenAI"]
