"""Stand-in for `libs/kotaemon/kotaemon/llms/completions/langchain_based.py` (Kotaemon v0.11.3): LangChain-based
completion models: the mixin implements only `run`.
"""

from __future__ import annotations

from kotaemon.base import LLMInterface
from kotaemon.llms.completions.base import LLM


class LCCompletionMixin:
    def _get_lc_class(self):
        raise NotImplementedError

    def __init__(self, **params):
        self._lc_class = self._get_lc_class()
        self._obj = self._lc_class(**params)
        self._kwargs: dict = params
        super().__init__()

    def run(self, text: str) -> LLMInterface:
        pred = self._obj.generate([text])
        generation = pred.generations[0][0]
        usage = (pred.llm_output or {}).get("token_usage") or {}
        return LLMInterface(
            text=generation.text,
            completion_tokens=usage.get("completion_tokens", 0),
            total_tokens=usage.get("total_tokens", 0),
            prompt_tokens=usage.get("prompt_tokens", 0),
        )

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


class OpenAI(LCCompletionMixin, LLM):  # type: ignore[misc]
    def __init__(
        self,
        openai_api_key=None,
        openai_api_base=None,
        model_name="text-davinci-003",
        temperature=0.7,
        max_tokens=256,
        **params,
    ):
        super().__init__(
            openai_api_key=openai_api_key,
            openai_api_base=openai_api_base,
            model_name=model_name,
            temperature=temperature,
            max_tokens=max_tokens,
            **params,
        )

    def _get_lc_class(self):
        from langchain_openai import OpenAI

        return OpenAI
