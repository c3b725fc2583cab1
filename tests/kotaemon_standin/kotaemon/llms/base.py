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
