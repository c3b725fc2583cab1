"""Stand-in for `libs/kotaemon/kotaemon/llms/prompts/__init__.py` (Kotaemon v0.11.3): prompts."""

from .base import BasePromptComponent
from .template import PromptTemplate

__all__ = ["BasePromptComponent", "PromptTemplate"]
