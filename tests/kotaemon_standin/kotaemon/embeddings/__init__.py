from .base import BaseEmbeddings
from .fastembed import FastEmbedEmbeddings
from .langchain_based import LCOpenAIEmbeddings
from .openai import OpenAIEmbeddings

__all__ = ["BaseEmbeddings", "FastEmbedEmbeddings", "LCOpenAIEmbeddings", "OpenAIEmbeddings"]
