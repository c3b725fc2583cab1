"""Stand-in for `libs/kotaemon/kotaemon/indices/qa/__init__.py` (Kotaemon v0.11.3): question answering."""

from .citation import CitationPipeline

__all__ = ["CitationPipeline"]
