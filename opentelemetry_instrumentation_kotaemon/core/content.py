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
        return self.clean(json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":")))

    def attributes(self, content: dict[str, Any]) -> dict[str, Any]:
        """Content attributes ready to export: texts cleaned, structures serialised to JSON and cleaned."""
        return {
            key: self.clean(value) if isinstance(value, str) else self.to_json(value) for key, value in content.items()
        }


def text_part(content: Any) -> dict[str, Any]:
    """A GenAI `text` message part."""
    return {"type": "text", "content": content}
