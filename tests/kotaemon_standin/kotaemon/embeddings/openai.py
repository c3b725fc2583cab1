"""Stand-in for `libs/kotaemon/kotaemon/embeddings/openai.py` (Kotaemon v0.11.3): embeddings on the real `openai`
client, a new client per call.
"""

from __future__ import annotations

from kotaemon.base import DocumentWithEmbedding, Param

from .base import BaseEmbeddings


class BaseOpenAIEmbeddings(BaseEmbeddings):
    api_key: str = Param(None)
    timeout: float | None = Param(None)
    max_retries: int | None = Param(None)
    dimensions: int | None = Param(None)
    context_length: int | None = Param(None)

    def prepare_client(self, async_version: bool = False):
        raise NotImplementedError

    def openai_response(self, client, **kwargs):
        raise NotImplementedError

    def invoke(self, text, *args, **kwargs) -> list[DocumentWithEmbedding]:
        inputs = self.prepare_input(text)
        response = self.openai_response(self.prepare_client(), input=[d.text for d in inputs], **kwargs)
        return [
            DocumentWithEmbedding(embedding=item.embedding, content=doc)
            for item, doc in zip(response.data, inputs, strict=False)
        ]


class OpenAIEmbeddings(BaseOpenAIEmbeddings):
    base_url: str | None = Param(None)
    organization: str | None = Param(None)
    model: str = Param(None)

    def prepare_client(self, async_version: bool = False):
        import openai

        return openai.OpenAI(api_key=self.api_key, base_url=self.base_url, max_retries=0)

    def openai_response(self, client, **kwargs):
        params = {"model": self.model}
        if self.dimensions:
            params["dimensions"] = self.dimensions
        params.update(kwargs)
        return client.embeddings.create(**params)
