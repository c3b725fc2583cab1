"""Stand-in for `libs/kotaemon/kotaemon/llms/chats/__init__.py` (Kotaemon v0.11.3): the chat models."""

from .base import ChatLLM
from .endpoint_based import EndpointChatLLM
from .langchain_based import LCAnthropicChat, LCChatMixin, LCChatOpenAI
from .openai import AzureChatOpenAI, ChatOpenAI, StructuredOutputChatOpenAI

__all__ = [
    "AzureChatOpenAI",
    "ChatLLM",
    "ChatOpenAI",
    "EndpointChatLLM",
    "LCAnthropicChat",
    "LCChatMixin",
    "LCChatOpenAI",
    "StructuredOutputChatOpenAI",
]
