"""Stand-in for `libs/kotaemon/kotaemon/llms/chats/langchain_based.py` (Kotaemon v0.11.3): LangChain-based chat models:
a non-component mixin holding the LangChain object in `_obj`.
"""

from __future__ import annotations

from kotaemon.base import BaseMessage, HumanMessage, LLMInterface, Param
from kotaemon.llms.chats.base import ChatLLM


class LCChatMixin:
    def _get_lc_class(self):
        raise NotImplementedError

    def __init__(self, stream: bool = False, **params):
        self._lc_class = self._get_lc_class()
        self._obj = self._lc_class(**params)
        self._kwargs: dict = params
        self._stream = stream
        super().__init__()

    def _messages(self, messages):
        from langchain_core.messages import AIMessage as LCAI
        from langchain_core.messages import HumanMessage as LCHuman
        from langchain_core.messages import SystemMessage as LCSystem

        if isinstance(messages, str):
            messages = [HumanMessage(content=messages)]
        elif isinstance(messages, BaseMessage):
            messages = [messages]
        kinds = {"system": LCSystem, "human": LCHuman, "ai": LCAI}
        return [kinds.get(m.type, LCHuman)(content=m.content) for m in messages]

    def run(self, messages, **kwargs):
        if self._stream:
            return self.stream(messages, **kwargs)
        return self.invoke(messages, **kwargs)

    def prepare_message(self, messages):
        return self._messages(messages)

    def prepare_response(self, pred):
        generation = pred.generations[0][0]
        usage = (pred.llm_output or {}).get("token_usage") or {}
        return LLMInterface(
            text=generation.text,
            candidates=[g.text for g in pred.generations[0]],
            completion_tokens=usage.get("completion_tokens", 0),
            total_tokens=usage.get("total_tokens", 0),
            prompt_tokens=usage.get("prompt_tokens", 0),
        )

    def invoke(self, messages, **kwargs) -> LLMInterface:
        pred = self._obj.generate(messages=[self.prepare_message(messages)], **kwargs)
        return self.prepare_response(pred)

    async def ainvoke(self, messages, **kwargs) -> LLMInterface:
        pred = await self._obj.agenerate(messages=[self.prepare_message(messages)], **kwargs)
        return self.prepare_response(pred)

    def stream(self, messages, **kwargs):
        for chunk in self._obj.stream(input=self.prepare_message(messages), **kwargs):
            yield LLMInterface(content=chunk.content)

    async def astream(self, messages, **kwargs):
        async for chunk in self._obj.astream(input=self.prepare_message(messages), **kwargs):
            yield LLMInterface(content=chunk.content)

    def to_langchain_format(self):
        return self._obj

    def __getattr__(self, name):
        if name == "_lc_class":
            raise AttributeError(name)
        kwargs = self.__dict__.get("_kwargs")
        if kwargs is not None and name in kwargs:
            return kwargs[name]
        obj = self.__dict__.get("_obj")
        if obj is not None:
            return getattr(obj, name)
        raise AttributeError(name)


class LCChatOpenAI(LCChatMixin, ChatLLM):  # type: ignore[misc]
    def __init__(self, openai_api_base=None, openai_api_key=None, model=None, temperature=0.7, **params):
        super().__init__(
            openai_api_base=openai_api_base,
            openai_api_key=openai_api_key,
            model=model,
            temperature=temperature,
            **params,
        )

    def _get_lc_class(self):
        from langchain_openai import ChatOpenAI

        return ChatOpenAI


class _LCAnthropicStandIn:
    """Stands in for langchain-anthropic's ChatAnthropic (not installed in tests); it is never called."""

    def __init__(self, **params):
        self.__dict__.update(params)


class LCAnthropicChat(LCChatMixin, ChatLLM):  # type: ignore[misc]
    api_key: str = Param(help="API key")
    model_name: str = Param(help="Model name to use")

    def __init__(self, api_key=None, model_name=None, temperature=0.7, **params):
        super().__init__(api_key=api_key, model_name=model_name, temperature=temperature, **params)

    def _get_lc_class(self):
        return _LCAnthropicStandIn
