"""Stand-in for `libs/kotaemon/kotaemon/rerankings/__init__.py` (Kotaemon v0.11.3): the re-rankers of
`kotaemon.rerankings`.
"""

from .base import BaseReranking
from .cohere import CohereReranking

__all__ = ["BaseReranking", "CohereReranking"]
