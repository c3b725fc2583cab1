"""Stand-in for `libs/kotaemon/kotaemon/llms/chats/openai.py` (Kotaemon v0.11.3): chat models on the real `openai`
client, which builds a new client per call as Kotaemon does.
"""

from __future__ import annotations

from kotaemon.base import BaseMessage, HumanMessage, LLMInterface, Param, StructuredOutputLLMInterface
from kotaemon.llms.chats.base import ChatLLM
from theflow.utils.modules import import_dotted_string


class BaseChatOpenAI(ChatLLM):
    api_key: str = Param(None)
    timeout: float | None = Param(None)
    max_retries: int | None = Param(None)
    temperature: float | None = Param(None)
    max_tokens: int | None = Param(None)
    n: int = Param(1)
    stop: str | list[str] | None = Param(None)
    frequency_penalty: float | None = Param(None)
    presence_penalty: float | None = Param(None)
    tool_choice: str | None = Param(None)
    tools: list | None = Param(None)
    logprobs: bool | None = Param(None)
    logit_bias: dict | None = Param(None)
    top_logprobs: int | None = Param(None)
    top_p: float | None = Param(None)

    @Param.auto(depends_on=["max_retries"])
    def max_retries_(self):
        raise AssertionError("auto Params must never be read by instrumentation")

    def prepare_message(self, messages):
        if isinstance(messages, str):
            messages = [HumanMessage(content=messages)]
        elif isinstance(messages, BaseMessage):
            messages = [messages]
        return [message.to_openai_format() for message in messages]

    def prepare_output(self, resp: dict) -> LLMInterface:
        usage = resp.get("usage") or {}
        choices = resp.get("choices") or []
        message = choices[0]["message"] if choices else {}
        additional = {"tool_calls": message["tool_calls"]} if message.get("tool_calls") else {}
        return LLMInterface(
            candidates=[(c["message"].get("content") or "") for c in choices],
            content=message.get("content") or "",
            total_tokens=usage.get("total_tokens", -1),
            prompt_tokens=usage.get("prompt_tokens", -1),
            completion_tokens=usage.get("completion_tokens", -1),
            additional_kwargs=additional,
        )

    def request_params(self, model, kwargs):
        """What Kotaemon's `prepare_params` builds, the same in `ChatOpenAI` and `AzureChatOpenAI` (upstream writes it
        out in each): the Params that are set, then the call's keyword arguments."""
        kwargs.pop("tools_pydantic", None)
        params = {
            "model": model,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "n": self.n,
            "stop": self.stop,
            "frequency_penalty": self.frequency_penalty,
            "presence_penalty": self.presence_penalty,
            "tool_choice": self.tool_choice,
            "tools": self.tools,
            "logprobs": self.logprobs,
            "logit_bias": self.logit_bias,
            "top_logprobs": self.top_logprobs,
            "top_p": self.top_p,
        }
        params = {k: v for k, v in params.items() if v is not None}
        params.update(kwargs)
        return params

    def prepare_client(self, async_version: bool = False):
        raise NotImplementedError

    def openai_response(self, client, **kwargs):
        raise NotImplementedError

    async def aopenai_response(self, client, **kwargs):
        raise NotImplementedError

    def invoke(self, messages, *args, **kwargs) -> LLMInterface:
        response = self.openai_response(
            self.prepare_client(async_version=False), messages=self.prepare_message(messages), stream=False, **kwargs
        )
        return self.prepare_output(response.model_dump())

    async def ainvoke(self, messages, *args, **kwargs) -> LLMInterface:
        response = await self.aopenai_response(
            self.prepare_client(async_version=True), messages=self.prepare_message(messages), stream=False, **kwargs
        )
        return self.prepare_output(response.model_dump())

    def stream(self, messages, *args, **kwargs):
        response = self.openai_response(
            self.prepare_client(async_version=False), messages=self.prepare_message(messages), stream=True, **kwargs
        )
        for chunk in response:
            if not chunk.choices:
                continue
            if chunk.choices[0].delta.content is not None:
                yield LLMInterface(content=chunk.choices[0].delta.content)

    async def astream(self, messages, *args, **kwargs):
        response = await self.aopenai_response(
            self.prepare_client(async_version=True), messages=self.prepare_message(messages), stream=True, **kwargs
        )
        async for chunk in response:
            if chunk.choices and chunk.choices[0].delta.content is not None:
                yield LLMInterface(content=chunk.choices[0].delta.content)


class ChatOpenAI(BaseChatOpenAI):
    base_url: str = Param(None)
    organization: str = Param(None)
    model: str = Param(None)

    def prepare_client(self, async_version: bool = False):
        import openai

        cls = openai.AsyncOpenAI if async_version else openai.OpenAI
        return cls(api_key=self.api_key, base_url=self.base_url, max_retries=0)

    def prepare_params(self, **kwargs):
        return self.request_params(self.model, kwargs)

    def openai_response(self, client, **kwargs):
        return client.chat.completions.create(**self.prepare_params(**kwargs))

    async def aopenai_response(self, client, **kwargs):
        return await client.chat.completions.create(**self.prepare_params(**kwargs))


class StructuredOutputChatOpenAI(ChatOpenAI):
    response_schema: type = Param(None)

    def openai_response(self, client, **kwargs):
        params = self.prepare_params(**kwargs)
        params.pop("stream", None)
        return client.chat.completions.create(**params)

    def prepare_output(self, resp: dict) -> StructuredOutputLLMInterface:
        base = super().prepare_output(resp)
        return StructuredOutputLLMInterface(content=base.content, parsed=None, prompt_tokens=base.prompt_tokens)


class AzureChatOpenAI(BaseChatOpenAI):
    """Mirrors `AzureChatOpenAI` of Kotaemon v0.11.3 (`libs/kotaemon/kotaemon/llms/chats/openai.py`): its Params, a
    new `openai.AzureOpenAI` / `openai.AsyncAzureOpenAI` client per call, `prepare_params` sending the deployment as
    the model, and the sync and async responses. As in the stand-in's `ChatOpenAI`, the client gets `max_retries=0`
    instead of the auto Param `max_retries_`, which the stand-in keeps as a trap for instrumentation."""

    azure_endpoint: str = Param(None, help="HTTPS endpoint for the Azure OpenAI model", required=True)
    azure_deployment: str = Param(None, help="Azure deployment name", required=True)
    api_version: str = Param(None, help="Azure model version", required=True)
    azure_ad_token: str | None = Param(None, help="Azure AD token")
    azure_ad_token_provider: str | None = Param(None, help="Azure AD token provider")

    @Param.auto(depends_on=["azure_ad_token_provider"])
    def azure_ad_token_provider_(self):
        if isinstance(self.azure_ad_token_provider, str):
            return import_dotted_string(self.azure_ad_token_provider, safe=False)

    def prepare_client(self, async_version: bool = False):
        import openai

        params = {
            "azure_endpoint": self.azure_endpoint,
            "api_version": self.api_version,
            "api_key": self.api_key,
            "azure_ad_token": self.azure_ad_token,
            "azure_ad_token_provider": self.azure_ad_token_provider_,
            "timeout": self.timeout,
            "max_retries": 0,
        }
        cls = openai.AsyncAzureOpenAI if async_version else openai.AzureOpenAI
        return cls(**params)

    def prepare_params(self, **kwargs):
        return self.request_params(self.azure_deployment, kwargs)

    def openai_response(self, client, **kwargs):
        return client.chat.completions.create(**self.prepare_params(**kwargs))

    async def aopenai_response(self, client, **kwargs):
        return await client.chat.completions.create(**self.prepare_params(**kwargs))
