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
