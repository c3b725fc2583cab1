"""Stand-in for `libs/kotaemon/kotaemon/llms/base.py` (Kotaemon v0.11.3): `BaseLLM` (`run` calls `invoke`; `stream` and
`astream` raise at call time).
"""

from kotaemon.base import BaseComponent, LLMInterface


class BaseLLM(BaseComponent):
    def to_langchain_format(self):
        raise NotImplementedError

    def invoke(self, *args, **kwargs) -> LLMInterface:
        raise NotImplementedError

    async def ainvoke(self, *args, **kwargs) -> LLMInterface:
        raise NotImplementedError

    def stream(self, *args, **kwargs):
        raise NotImplementedError

    def astream(self, *args, **kwargs):
        raise NotImplementedError

    def run(self, *args, **kwargs):
        return self.invoke(*args, **kwargs)
