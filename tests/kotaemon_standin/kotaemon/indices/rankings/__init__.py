"""Stand-in for `libs/kotaemon/kotaemon/indices/rankings/__init__.py` (Kotaemon v0.11.3): the re-rankers of
`kotaemon.indices.rankings`, whose base class is not the one of `kotaemon.rerankings`."""

from .base import BaseReranking
from .cohere import CohereReranking
from .llm import LLMReranking
from .llm_scoring import LLMScoring
from .llm_trulens import LLMTrulensScoring

__all__ = ["BaseReranking", "CohereReranking", "LLMReranking", "LLMScoring", "LLMTrulensScoring"]
