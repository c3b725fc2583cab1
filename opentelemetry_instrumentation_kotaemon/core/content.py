"""Content policy: whether prompts and completions are captured, and how they are cleaned before export."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from ..settings import ContentMode, Settings
from .records import OutputMessage
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
        self._redact = Redactor(settings.redaction_rules, settings.redaction_patterns)

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


def text_part(content: Any) -> dict[str, Any]:
    """A GenAI `text` message part."""
    return {"type": "text", "content": content}


def output_messages_json(messages: Iterable[OutputMessage]) -> list[dict[str, Any]]:
    """GenAI `gen_ai.output.messages` structures for the given choices."""
    result = []
    for message in messages:
        parts: list[dict[str, Any]] = []
        if message.text:
            parts.append(text_part(message.text))
        for call in message.tool_calls:
            parts.append({"type": "tool_call", "id": call.id, "name": call.name, "arguments": call.arguments})
        result.append({"role": message.role, "parts": parts, "finish_reason": message.finish_reason or ""})
    return result
