"""The OpenAI Python client (1.x to 3.x): chat completions, parse, legacy completions, embeddings, responses.

Methods are wrapped when their module is first imported; importing this package does not import `openai`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..core.calls import Build, ReadResult, Refused, traced_async_call, traced_call
from ..core.telemetry import Telemetry, current_model_call
from ..patching import Patcher, Target, check_version
from .extract import OpenAIExtractor

_CHAT = "openai.resources.chat.completions"
_COMPLETIONS = "openai.resources.completions"
_EMBEDDINGS = "openai.resources.embeddings"
_RESPONSES = "openai.resources.responses"
_CLIENT = "openai._base_client"


def _count_retry(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    call = current_model_call()
    if call is not None:
        call.retries += 1
    return wrapped(*args, **kwargs)


def _targets(telemetry: Telemetry) -> list[Target]:
    extract = OpenAIExtractor(telemetry)
    methods: list[tuple[str, str, Build, ReadResult, Refused | None]] = [
        (_CHAT, "create", extract.chat_request, extract.chat_result, extract.chat_refused),
        (_CHAT, "parse", extract.chat_request, extract.chat_result, extract.chat_refused),
        (_COMPLETIONS, "create", extract.completion_request, extract.completion_result, None),
        (_EMBEDDINGS, "create", extract.embeddings_request, extract.embeddings_result, None),
        (_RESPONSES, "create", extract.responses_request, extract.responses_result, None),
    ]
    targets = []
    for module, method, build, read, refused in methods:
        sync_class, async_class = ("Responses", "AsyncResponses") if module == _RESPONSES else _class_names(module)
        targets.append(Target(module, f"{sync_class}.{method}", traced_call(telemetry, build, read, refused)))
        targets.append(Target(module, f"{async_class}.{method}", traced_async_call(telemetry, build, read, refused)))
    # The client's own retry loop: one span per logical call, with the number of retries on it.
    targets.append(Target(_CLIENT, "SyncAPIClient._sleep_for_retry", _count_retry))
    targets.append(Target(_CLIENT, "AsyncAPIClient._sleep_for_retry", _count_retry))
    return targets


def _class_names(module: str) -> tuple[str, str]:
    if module == _EMBEDDINGS:
        return "Embeddings", "AsyncEmbeddings"
    return "Completions", "AsyncCompletions"


def instrument(patcher: Patcher, telemetry: Telemetry) -> None:
    """Wrap the OpenAI client's model methods now or when `openai` is imported."""
    patcher.patch(_targets(telemetry), before_wrapping=lambda: check_version("openai"))
