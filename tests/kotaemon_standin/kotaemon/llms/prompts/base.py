"""Stand-in for `libs/kotaemon/kotaemon/llms/prompts/base.py` (Kotaemon v0.11.3): `BasePromptComponent`: a prompt
template filled from its params.
"""

from kotaemon.base import BaseComponent, Document

from .template import PromptTemplate


class BasePromptComponent(BaseComponent):
    class Config:
        middleware_switches = {"theflow.middleware.CachingMiddleware": False}
        allow_extra = True

    template: str | PromptTemplate

    def __init__(self, *, template, **kwargs):
        super().__init__()
        self.template = template if isinstance(template, PromptTemplate) else PromptTemplate(template)
        self._values = kwargs

    def set_value(self, **kwargs):
        self._values.update(kwargs)

    def run(self, **kwargs):
        values = {**self._values, **kwargs}
        return Document(self.template.populate(**values), metadata={"origin": "PromptComponent"})
