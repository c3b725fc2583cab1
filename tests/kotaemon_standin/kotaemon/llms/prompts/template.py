"""Stand-in for `libs/kotaemon/kotaemon/llms/prompts/template.py` (Kotaemon v0.11.3): `PromptTemplate`, a format string
(not a component).
"""

from __future__ import annotations

import string


class PromptTemplate:
    """A format string with named placeholders (not a component)."""

    def __init__(self, template: str, ignore_invalid: bool = True) -> None:
        self.template = template
        self.placeholders = {name for _, name, _, _ in string.Formatter().parse(template) if name}

    def populate(self, safe: bool = True, **kwargs) -> str:
        return self.template.format(**kwargs)

    def __add__(self, other: PromptTemplate) -> PromptTemplate:
        return PromptTemplate(self.template + "\n" + other.template)
