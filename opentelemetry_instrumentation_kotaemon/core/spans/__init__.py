"""One typed record per kind of span: what an integration fills, and everything the span and metrics of that kind
say (span name, attributes, content-gated attributes apart, metrics). The core (`core.telemetry`) runs their
lifecycle; integrations fill their fields and never spell an attribute name.
"""

from .agent import AgentStep
from .indexing import IndexingStep
from .model import ModelCall, OutputMessage, ToolCall
from .rerank import RerankStep
from .retrieval import RetrievalStep
from .step import Step
from .tool import ToolStep
from .workflow import WorkflowStep

__all__ = [
    "AgentStep",
    "IndexingStep",
    "ModelCall",
    "OutputMessage",
    "RerankStep",
    "RetrievalStep",
    "Step",
    "ToolCall",
    "ToolStep",
    "WorkflowStep",
]
