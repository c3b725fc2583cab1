"""Stand-in for `libs/kotaemon/kotaemon/base/__init__.py` (Kotaemon v0.11.3): the component base, theflow's `Node`,
`Param`, `lazy`, and the records.
"""

from theflow import Node, Param, lazy

from .component import BaseComponent
from .schema import (
    AIMessage,
    BaseMessage,
    Document,
    DocumentWithEmbedding,
    ExtractorOutput,
    HumanMessage,
    LLMInterface,
    RetrievedDocument,
    StructuredOutputLLMInterface,
    SystemMessage,
)

__all__ = [
    "AIMessage",
    "BaseComponent",
    "BaseMessage",
    "Document",
    "DocumentWithEmbedding",
    "ExtractorOutput",
    "HumanMessage",
    "LLMInterface",
    "Node",
    "Param",
    "RetrievedDocument",
    "StructuredOutputLLMInterface",
    "SystemMessage",
    "lazy",
]
