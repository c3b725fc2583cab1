"""Stand-in for `libs/kotaemon/kotaemon/base/schema.py` (Kotaemon v0.11.3): plain-Python versions of Kotaemon's
document and message records (same field names and defaults).
"""

from __future__ import annotations

import uuid
from typing import Any


class Document:
    """A piece of content with metadata; `text` mirrors `content` as in Kotaemon."""

    def __init__(self, content: Any = None, *args: Any, **kwargs: Any) -> None:
        if isinstance(content, Document):
            base = dict(content.__dict__)
            base.update(kwargs)
            self.__dict__.update(base)
            return
        text = kwargs.pop("text", None)
        embedding = kwargs.pop("embedding", None)
        if content is None:
            if text is not None:
                content = text
            elif embedding is not None:
                content, text = embedding, "<EMBEDDING>"
        self.content = content
        self.text = text if text is not None else (str(content) if content else "")
        self.id_ = kwargs.pop("id_", None) or str(uuid.uuid4())
        self.embedding = embedding
        self.metadata: dict[str, Any] = kwargs.pop("metadata", None) or {}
        self.source = kwargs.pop("source", None)
        self.channel = kwargs.pop("channel", None)
        for key, value in kwargs.items():
            setattr(self, key, value)

    @property
    def doc_id(self) -> str:
        return self.id_

    def get_content(self) -> str:
        return self.text

    def to_dict(self) -> dict[str, Any]:
        return {"id_": self.id_, "text": self.text, "metadata": dict(self.metadata)}

    def __bool__(self) -> bool:
        return bool(self.content)

    def __str__(self) -> str:
        return str(self.content)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.content!r})"


class DocumentWithEmbedding(Document):
    def __init__(self, embedding: list[float], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, embedding=embedding, **kwargs)
        self.embedding = embedding


class RetrievedDocument(Document):
    def __init__(self, *args: Any, score: float = 0.0, retrieval_metadata: dict | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.score = score
        self.retrieval_metadata = retrieval_metadata or {}


class BaseMessage(Document):
    type = "base"
    role = "user"

    def to_openai_format(self) -> dict[str, Any]:
        return {"role": self.role, "content": self.content}


class SystemMessage(BaseMessage):
    type = "system"
    role = "system"


class HumanMessage(BaseMessage):
    type = "human"
    role = "user"


class AIMessage(BaseMessage):
    type = "ai"
    role = "assistant"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.additional_kwargs: dict[str, Any] = kwargs.pop("additional_kwargs", None) or {}
        super().__init__(*args, **kwargs)


class LLMInterface(AIMessage):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.candidates: list[str] = kwargs.pop("candidates", None) or []
        self.completion_tokens: int = kwargs.pop("completion_tokens", -1)
        self.total_tokens: int = kwargs.pop("total_tokens", -1)
        self.prompt_tokens: int = kwargs.pop("prompt_tokens", -1)
        self.total_cost: float = kwargs.pop("total_cost", 0)
        self.logits: list[list[float]] = kwargs.pop("logits", None) or []
        self.messages: list[AIMessage] = kwargs.pop("messages", None) or []
        self.logprobs: list[float] = kwargs.pop("logprobs", None) or []
        super().__init__(*args, **kwargs)


class StructuredOutputLLMInterface(LLMInterface):
    def __init__(self, *args: Any, parsed: Any = None, refusal: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.parsed = parsed
        self.refusal = refusal


class ExtractorOutput(Document):
    def __init__(self, *args: Any, matches: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.matches = matches or []
