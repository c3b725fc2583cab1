from .base import BasePromptComponent
from .template import PromptTemplate

__all__ = ["BasePromptComponent", "PromptTemplate"]
