"""Content policy: whether prompts and completions are captured, and how they are cleaned before export."""

from __future__ import annotations

import json
from typing import Any

from ..settings import ContentMode, Settings
from .redaction import Redactor

_TRUNCATED = "...[truncated {} chars]"


class ContentPolicy:
    """Decides what content is captured and redacts and caps every captured value."""

    def __init__(self, settings: Settings) -> None:
        self.mode = settings.content_mode
        self.captured = settings.content_mode is not ContentMode.NONE
        self.on_span = settings.content_mode.on_span
        """Whether captured content goes on spans (read once: the hot paths ask on every call)."""
        self.max_length = settings.content_max_length
        self._redact = Redactor(settings.redact, settings.redact_patterns)

    def clean(self, text: str) -> str:
        """Redact, then cap to the configured length. Used for every exported text we did not generate."""
        if self._redact.active:
            text = self._redact(text)
        if len(text) > self.max_length:
            cut = len(text) - self.max_length
            text = text[: self.max_length] + _TRUNCATED.format(cut)
        return text

    def to_json(self, value: Any) -> str:
        """Serialise a content structure to JSON, then clean it."""
        return self.clean(_dumps(value))

    def documents_json(self, documents: list[dict[str, Any]]) -> str:
        """Serialise retrieved documents so the JSON stays whole within the length cap: the texts are redacted and,
        when the whole is too long, each is cut to its share; ids and scores are never cut."""
        redact = self._redact if self._redact.active else None
        found = [dict(d, content=redact(d["content"])) if redact and "content" in d else d for d in documents]
        whole = _dumps(found)
        if len(whole) <= self.max_length:
            return whole
        bare = [{k: v for k, v in d.items() if k != "content"} for d in found]
        texts = sum(1 for d in found if "content" in d)
        # each text's share of the room the ids and scores leave, less its key, quotes and the truncation note
        share = (self.max_length - len(_dumps(bare))) // max(texts, 1) - len(',"content":""' + _TRUNCATED.format(10**6))
        if share > 0:
            cut = [dict(d, content=_cut(d["content"], share)) if "content" in d else d for d in found]
            whole = _dumps(cut)
            if len(whole) <= self.max_length:
                return whole
        return self.clean(_dumps(bare))

    def attributes(self, content: dict[str, Any]) -> dict[str, Any]:
        """Content attributes ready to export: texts cleaned, structures serialised to JSON and cleaned."""
        return {key: self._attribute(value) for key, value in content.items()}

    def _attribute(self, value: Any) -> str:
        if isinstance(value, str):
            return self.clean(value)
        if isinstance(value, RetrievedDocuments):
            return self.documents_json(value)
        return self.to_json(value)


class RetrievedDocuments(list[dict[str, Any]]):
    """The `gen_ai.retrieval.documents` items of a step (`{"id", "score", "content"}`, each where known): exported as
    JSON that stays whole when the length cap applies."""


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))


def _cut(text: str, length: int) -> str:
    return text if len(text) <= length else text[:length] + _TRUNCATED.format(len(text) - length)


def text_part(content: Any) -> dict[str, Any]:
    """A GenAI `text` message part."""
    return {"type": "text", "content": content}
