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
