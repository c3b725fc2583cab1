"""Stand-in for `libs/kotaemon/kotaemon/embeddings/langchain_based.py` (Kotaemon v0.11.3): LangChain-based embeddings:
the mixin implements only `run`; `invoke` still raises NotImplementedError.
"""

from __future__ import annotations

from kotaemon.base import DocumentWithEmbedding

from .base import BaseEmbeddings


class LCEmbeddingMixin:
    def _get_lc_class(self):
        raise NotImplementedError

    def __init__(self, **params):
        self._lc_class = self._get_lc_class()
        self._obj = self._lc_class(**params)
        self._kwargs: dict = params
        super().__init__()

    def run(self, text):
        inputs = self.prepare_input(text)
        vectors = self._obj.embed_documents([d.text for d in inputs])
        return [DocumentWithEmbedding(embedding=v, content=d) for v, d in zip(vectors, inputs, strict=False)]

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


class LCOpenAIEmbeddings(LCEmbeddingMixin, BaseEmbeddings):  # type: ignore[misc]
    def __init__(self, model="text-embedding-ada-002", openai_api_base=None, openai_api_key=None, **params):
        super().__init__(
            model=model,
            openai_api_base=openai_api_base,
            openai_api_key=openai_api_key,
            check_embedding_ctx_length=False,
            **params,
        )

    def _get_lc_class(self):
        from langchain_openai import OpenAIEmbeddings

        return OpenAIEmbeddings
