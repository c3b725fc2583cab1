"""Stand-in for `libs/kotaemon/kotaemon/llms/__init__.py` (Kotaemon v0.11.3): the LLMs, prompts and message records."""

from kotaemon.base import AIMessage, BaseMessage, HumanMessage, LLMInterface, SystemMessage

from .base import BaseLLM
from .chats import (
    AzureChatOpenAI,
    ChatLLM,
    ChatOpenAI,
    EndpointChatLLM,
    LCAnthropicChat,
    LCChatOpenAI,
    StructuredOutputChatOpenAI,
)
from .completions import LLM, OpenAI
from .linear import SimpleLinearPipeline
from .prompts import BasePromptComponent, PromptTemplate

__all__ = [
    "LLM",
    "AIMessage",
    "AzureChatOpenAI",
    "BaseLLM",
    "BaseMessage",
    "BasePromptComponent",
    "ChatLLM",
    "ChatOpenAI",
    "EndpointChatLLM",
    "HumanMessage",
    "LCAnthropicChat",
    "LCChatOpenAI",
    "LLMInterface",
    "OpenAI",
    "PromptTemplate",
    "SimpleLinearPipeline",
    "StructuredOutputChatOpenAI",
    "SystemMessage",
]
