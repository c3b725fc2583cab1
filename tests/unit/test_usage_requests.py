"""Which streamed chat calls are asked for their usage (`OTEL_KOTAEMON_OPENAI_STREAM_USAGE`), decided from real
clients (making one sends nothing), and what counts as a server refusing the question."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import openai
import pytest

from opentelemetry_instrumentation_kotaemon.core.spans import ModelCall
from opentelemetry_instrumentation_kotaemon.openai.usage_requests import (
    REFUSED_LIMIT,
    UsageRequests,
    azure_accepts,
    names_usage_request,
)
from opentelemetry_instrumentation_kotaemon.settings import StreamUsage

KEY = "sk-unit"
AZURE = "https://kotaemon.openai.azure.com"


def openai_client(base_url: str | None = None) -> openai.OpenAI:
    return openai.OpenAI(api_key=KEY, base_url=base_url)


def azure_client(version: str, asynchronous: bool = False) -> Any:
    cls = openai.AsyncAzureOpenAI if asynchronous else openai.AzureOpenAI
    return cls(api_key=KEY, azure_endpoint=AZURE, api_version=version)


@pytest.mark.parametrize(
    ("version", "accepted"),
    [
        ("2024-02-15-preview", False),  # Kotaemon's .env.example
        ("2024-06-01", False),
        ("2024-08-01-preview", False),
        ("2024-09-01-preview", True),
        ("2024-10-21", True),
        ("2025-04-01-preview", True),
        ("preview", False),
        ("v1", False),
        ("", False),
    ],
)
def test_azure_versions_from_2024_09_01_take_stream_options(version: str, accepted: bool) -> None:
    assert azure_accepts(version) is accepted


@pytest.mark.parametrize(
    ("make_client", "auto"),
    [
        (lambda: openai_client(), True),  # api.openai.com
        (lambda: openai_client("http://localhost:11434/v1"), False),  # an OpenAI-compatible server
        (lambda: openai_client("https://api.openai.com.example.net/v1"), False),
        (lambda: azure_client("2024-02-15-preview"), False),
        (lambda: azure_client("2024-02-15-preview", asynchronous=True), False),
        (lambda: azure_client("2024-10-21"), True),
        (lambda: azure_client("2024-10-21", asynchronous=True), True),
    ],
)
def test_who_is_asked_in_each_mode(make_client: Any, auto: bool) -> None:
    client = make_client()
    assert UsageRequests(StreamUsage.AUTO).asks(client, {}) is auto
    assert UsageRequests(StreamUsage.ALWAYS).asks(client, {}) is True
    assert UsageRequests(StreamUsage.NEVER).asks(client, {}) is False


def test_the_api_version_of_the_call_and_of_a_copied_client_count() -> None:
    requests = UsageRequests(StreamUsage.AUTO)
    client = azure_client("2024-02-15-preview")
    assert requests.asks(client, {}) is False
    assert requests.asks(client, {"extra_query": {"api-version": "2024-10-21"}}) is True
    assert requests.asks(client, {}) is False  # the call's own version was not kept for the client
    assert requests.asks(client.with_options(api_version="2024-10-21"), {}) is True
    assert requests.asks(None, {}) is False


def _refusal(message: str, status: int = 400) -> Any:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}}
    return SimpleNamespace(status_code=status, message=f"Error code: {status} - {body}", body=body)


@pytest.mark.parametrize(
    ("error", "named"),
    [
        (_refusal("Unrecognized request argument supplied: stream_options"), True),
        (_refusal("Extra inputs are not permitted: body.stream_options", status=422), True),
        (_refusal("Unrecognized request argument supplied: vendor_flag"), False),
        (_refusal("stream_options: server overloaded", status=500), False),
        (SimpleNamespace(status_code=400, message=None, body="stream_options is not supported"), True),
        (ValueError("stream_options"), False),
    ],
)
def test_a_refusal_is_a_400_or_422_naming_stream_options(error: Any, named: bool) -> None:
    assert names_usage_request(error) is named


def test_a_refusal_is_remembered_per_endpoint_and_only_for_a_request_we_changed() -> None:
    requests = UsageRequests(StreamUsage.ALWAYS)
    old, new = azure_client("2024-02-15-preview"), azure_client("2024-10-21")
    instance = SimpleNamespace(_client=old)
    refusal = _refusal("Unrecognized request argument supplied: stream_options")
    assert requests.refused(ModelCall("chat", "azure.ai.openai"), instance, {}, refusal) is False  # not ours
    call = ModelCall("chat", "azure.ai.openai", stream_usage_requested=True)
    assert requests.refused(call, instance, {}, _refusal("Unrecognized request argument supplied: x")) is False
    assert requests.refused(call, instance, {}, refusal) is True
    assert call.stream_usage_requested is False and call.retries == 1
    assert requests.asks(old, {}) is False
    assert requests.asks(azure_client("2024-02-15-preview"), {}) is False  # another client of the same endpoint
    assert requests.asks(new, {}) is True  # the same resource on another API version


def test_the_memory_of_refusals_is_bounded() -> None:
    requests = UsageRequests(StreamUsage.ALWAYS)
    first, last = (
        openai_client("http://127.0.0.1:9000/v1"),
        openai_client(f"http://127.0.0.1:{9000 + REFUSED_LIMIT}/v1"),
    )
    for port in range(9000, 9000 + REFUSED_LIMIT + 1):
        requests.remember_refusal((f"http://127.0.0.1:{port}/v1/", None))
    assert len(requests._refused) == REFUSED_LIMIT
    assert requests.asks(first, {}) is True  # the oldest refusal was forgotten
    assert requests.asks(last, {}) is False
