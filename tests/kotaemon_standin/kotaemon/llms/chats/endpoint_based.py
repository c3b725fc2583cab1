"""Stand-in for `libs/kotaemon/kotaemon/llms/chats/endpoint_based.py` (Kotaemon v0.11.3): a chat model behind an HTTP
endpoint; here `invoke` calls `run`, the reverse of BaseLLM.
"""

from __future__ import annotations

import json
import urllib.request

from kotaemon.base import BaseMessage, HumanMessage, LLMInterface, Param
from kotaemon.llms.chats.base import ChatLLM


class EndpointChatLLM(ChatLLM):
    endpoint_url: str = Param(None, help="URL of an OpenAI-compatible chat completions endpoint")

    def run(self, messages, **kwargs) -> LLMInterface:
        if isinstance(messages, str):
            messages = [HumanMessage(content=messages)]
        elif isinstance(messages, BaseMessage):
            messages = [messages]
        body = json.dumps({"messages": [m.to_openai_format() for m in messages], "model": "endpoint"}).encode()
        request = urllib.request.Request(self.endpoint_url, body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request) as response:
            data = json.loads(response.read())
        usage = data.get("usage") or {}
        return LLMInterface(
            content=data["choices"][0]["message"]["content"],
            total_tokens=usage.get("total_tokens", -1),
            prompt_tokens=usage.get("prompt_tokens", -1),
            completion_tokens=usage.get("completion_tokens", -1),
        )

    def invoke(self, messages, **kwargs) -> LLMInterface:
        return self.run(messages, **kwargs)

    async def ainvoke(self, messages, **kwargs) -> LLMInterface:
        return self.invoke(messages, **kwargs)
