"""Regex redaction of secrets and personal data in captured text.

Each rule replaces what it matches with ``[REDACTED:<rule>]``. The patterns are anchored on separators so that
identifiers (response ids, document ids, UUIDs, plain digit runs) are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from ..settings import REDACTION_RULES

_NOT_WORD_BEFORE = r"(?<![\w.\-/+])"
_NOT_WORD_AFTER = r"(?![\w\-]|\.\d)"


def _luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _card_replacement(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    if 13 <= len(digits) <= 19 and _luhn_valid(digits):
        return "[REDACTED:card]"
    return match.group(0)


_Replacement = str | Callable[[re.Match[str]], str]

# (rule name, pattern, replacement); applied in this order.
_RULES: tuple[tuple[str, re.Pattern[str], _Replacement], ...] = (
    (
        "credentials",
        re.compile(
            r"(?i)\b(api[_-]?key|access[_-]?token|auth[_-]?token|secret|password|passwd|pwd)"
            r"(\"?\s*[:=]\s*\"?|\s+is\s+)[^\s\"',;&]+"
        ),
        r"\1\2[REDACTED:credentials]",
    ),
    (
        "credentials",
        re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^\s/:@]+:[^\s/@]+@"),
        r"\1[REDACTED:credentials]@",
    ),
    ("bearer", re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/\-]+=*"), "Bearer [REDACTED:bearer]"),
    (
        "bearer",
        re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]+"),
        "[REDACTED:bearer]",
    ),
    (
        "api_key",
        re.compile(
            r"\b(?:sk-[A-Za-z0-9_\-]{16,}|AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_\-]{35}|gh[pousr]_[A-Za-z0-9]{30,}"
            r"|xox[abpr]-[A-Za-z0-9\-]{10,})"
        ),
        "[REDACTED:api_key]",
    ),
    (
        "email",
        re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"),
        "[REDACTED:email]",
    ),
    (
        "card",
        re.compile(_NOT_WORD_BEFORE + r"\d(?:[ \-]?\d){12,18}" + _NOT_WORD_AFTER),
        _card_replacement,
    ),
    (
        "phone",
        re.compile(
            _NOT_WORD_BEFORE
            + r"(?:\+\d{1,3}[ .\-]?)?(?:\(\d{2,4}\)[ .\-]?|\d{2,4}[ .\-])\d{3,4}[ .\-]\d{3,4}"
            + _NOT_WORD_AFTER
        ),
        "[REDACTED:phone]",
    ),
    ("phone", re.compile(_NOT_WORD_BEFORE + r"\+\d{8,15}" + _NOT_WORD_AFTER), "[REDACTED:phone]"),
    ("phone", re.compile(r"(?<![\d\w])(?:\+?86[ \-]?)?1[3-9]\d{9}(?![\d\w])"), "[REDACTED:phone]"),
)

RULE_NAMES: tuple[str, ...] = REDACTION_RULES
"""The built-in rules, all on by default: credentials, bearer, api_key, email, card, phone (each names one or more
patterns above)."""


class Redactor:
    """Applies the chosen built-in rules and any extra patterns to a string."""

    def __init__(self, rules: Iterable[str] = RULE_NAMES, extra: Iterable[re.Pattern[str]] = ()) -> None:
        chosen = set(rules)
        steps: list[tuple[re.Pattern[str], _Replacement]] = [
            (pattern, replacement) for name, pattern, replacement in _RULES if name in chosen
        ]
        steps.extend((pattern, "[REDACTED]") for pattern in extra)
        self._steps = tuple(steps)

    @property
    def active(self) -> bool:
        return bool(self._steps)

    def __call__(self, text: str) -> str:
        for pattern, replacement in self._steps:
            text = pattern.sub(replacement, text)
        return text
