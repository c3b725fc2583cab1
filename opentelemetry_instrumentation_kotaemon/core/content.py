"""Content policy: whether prompts and completions are captured, and how they are cleaned before export."""

from __future__ import annotations

import json
import traceback
from collections.abc import Mapping, Sequence
from typing import Any

from ..settings import ContentMode, Settings
from .redaction import Redactor

_TRUNCATED = "...[truncated {} chars]"
MAX_NESTING = 16
"""How deep `redact_value` follows lists and maps; anything deeper is replaced by `TOO_DEEP`."""
TOO_DEEP = "[REDACTED:nested too deep]"
# Numbers at least this long are checked as text (a card or phone number logged as a number); shorter ones match no
# rule, and longer ones are no card or phone number.
_NUMBER_AS_TEXT = range(10**6, 10**20)


class ContentPolicy:
    """Decides what content is captured and redacts and caps every captured value."""

    def __init__(self, settings: Settings) -> None:
        self.mode = settings.content_mode
        self.captured = settings.content_mode is not ContentMode.NONE
        self.on_span = settings.content_mode.on_span
        """Whether captured content goes on spans (read once: the hot paths ask on every call)."""
        self.max_length = settings.content_max_length
        self._redact = Redactor(settings.redact, settings.redact_patterns)

    def redact(self, text: str) -> str:
        """Apply the redaction rules (no length cap)."""
        return self._redact(text) if self._redact.active else text

    def clean(self, text: str) -> str:
        """Redact, then cap to the configured length. Used for every exported text we did not generate."""
        if self._redact.active:
            text = self._redact(text)
        if len(text) > self.max_length:
            cut = len(text) - self.max_length
            text = text[: self.max_length] + _TRUNCATED.format(cut)
        return text

    def error_text(self, error: BaseException) -> tuple[str, str]:
        """An exception's message and stack trace as exported (span status, `exception.*`): user data, so always
        cleaned, whether content is captured or not. A message that cannot be read is named by its class."""
        try:
            message = str(error)
        except Exception:
            message = f"<unprintable {type(error).__name__}>"
        stack = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        return self.clean(message), self.clean(stack)

    def redact_value(self, value: Any, depth: int = 0) -> Any:
        """Any value an exported record may carry (text, bytes, numbers, lists and maps of them, nested) with every
        text in it redacted, map keys included; anything else becomes its redacted text. Nothing is cut to the
        content length (the SDK's own limits apply). The value is returned as it is when nothing in it changed, and
        is never modified in place (it may be the app's own object)."""
        if isinstance(value, str):
            return self.redact(value)
        if value is None or isinstance(value, (bool, float)):
            return value
        if isinstance(value, int):
            if abs(value) not in _NUMBER_AS_TEXT:
                return value
            text = str(value)
            redacted = self.redact(text)
            return value if redacted == text else redacted
        if isinstance(value, (bytes, bytearray)):
            text = bytes(value).decode("utf-8", "surrogateescape")  # any bytes, and back unchanged
            redacted = self.redact(text)
            return value if redacted == text else redacted.encode("utf-8", "surrogateescape")
        if depth >= MAX_NESTING:
            return TOO_DEEP
        if isinstance(value, Mapping):
            items = list(value.items())
            redacted_items = [
                (self.redact(key) if isinstance(key, str) else key, self.redact_value(item, depth + 1))
                for key, item in items
            ]
            if all(new[0] is old[0] and new[1] is old[1] for new, old in zip(redacted_items, items, strict=True)):
                return value
            return dict(redacted_items)
        if isinstance(value, Sequence):
            redacted_list = [self.redact_value(item, depth + 1) for item in value]
            if all(new is old for new, old in zip(redacted_list, value, strict=True)):
                return value
            return tuple(redacted_list) if isinstance(value, tuple) else redacted_list
        return self.redact(str(value))

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
