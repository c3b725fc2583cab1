from .citation import CitationPipeline

__all__ = ["CitationPipeline"]
