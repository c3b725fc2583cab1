"""Stand-in for `libs/kotaemon/kotaemon/llms/completions/__init__.py` (Kotaemon v0.11.3): the completion models."""

from .base import LLM
from .langchain_based import LCCompletionMixin, OpenAI

__all__ = ["LLM", "LCCompletionMixin", "OpenAI"]
