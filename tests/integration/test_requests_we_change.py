"""What the package changes in an app's OpenAI requests, against a strict server that refuses the arguments it does
not know, as Azure OpenAI does: an app gets what it gets bare, sync and async, through the OpenAI and Azure clients,
Kotaemon's `AzureChatOpenAI` (the stand-in) and LangChain's.

The one change is the usage request on streamed chat calls (`stream_options`; docs/tracing.md lists every change).
Azure OpenAI refuses it before API version 2024-09-01, and Kotaemon's `.env.example` sets 2024-02-15-preview.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import langchain_openai
import openai
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

from tests.conftest import Captured
from tests.kotaemon_standin import use
from tests.support.openai_server import ASK_STREAM_USAGE, REPLY, OpenAIServer, count_tokens

use()

from kotaemon.llms import AzureChatOpenAI  # noqa: E402

Instrument = Callable[..., Captured]
API_KEY = "sk-proj-strictSECRET0123456789abcdef"
MESSAGES = [{"role": "user", "content": "What is the answer?"}]
OLD = "2024-02-15-preview"  # Kotaemon's .env.example
NEW = "2024-10-21"
MODES = pytest.mark.parametrize("env", [{}, ASK_STREAM_USAGE], ids=["auto", "always"])
SYNC_AND_ASYNC = pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])


@pytest.fixture(scope="module")
def strict() -> Iterator[OpenAIServer]:
    with OpenAIServer(strict=True) as server:
        yield server


def azure(server: OpenAIServer, version: str, asynchronous: bool) -> Callable[[], Any]:
    """A factory of Azure clients on `version` (a new client per call, as Kotaemon makes them)."""
    cls = openai.AsyncAzureOpenAI if asynchronous else openai.AzureOpenAI
    return lambda: cls(azure_endpoint=server.url, api_version=version, api_key=API_KEY)


def compatible(server: OpenAIServer, asynchronous: bool) -> Callable[[], Any]:
    """A factory of OpenAI clients on the strict server's `/v1`: an OpenAI-compatible server that does not know
    `stream_options`."""
    cls = openai.AsyncOpenAI if asynchronous else openai.OpenAI
    return lambda: cls(base_url=server.base_url, api_key=API_KEY)


def outcome(make_client: Callable[[], Any], model: str, **kwargs: Any) -> tuple[Any, ...]:
    """What the app gets from a streamed chat call read to its end: its chunks, or the error it raised."""
    client = make_client()

    async def read_async() -> list[dict[str, Any]]:
        stream = await client.chat.completions.create(model=model, messages=MESSAGES, stream=True, **kwargs)
        return [chunk.model_dump() async for chunk in stream]

    try:
        if isinstance(client, openai.AsyncOpenAI):
            return ("chunks", asyncio.run(read_async()))
        stream = client.chat.completions.create(model=model, messages=MESSAGES, stream=True, **kwargs)
        return ("chunks", [chunk.model_dump() for chunk in stream])
    except openai.APIStatusError as error:
        return ("error", type(error).__name__, error.status_code, str(error))


def sent(server: OpenAIServer, model: str) -> list[tuple[str, dict[str, Any]]]:
    """The URL path and body of every request the server received for `model` (or deployment, on Azure)."""
    return [
        (path, body)
        for path, body, _ in server.requests
        if body.get("model") == model or f"/deployments/{model}/" in path
    ]


def asked(server: OpenAIServer, model: str) -> list[bool]:
    """For each request for `model`, whether it carried `stream_options`."""
    return ["stream_options" in body for _, body in sent(server, model)]


def assert_no_tokens(span: ReadableSpan) -> None:
    """Without a usage chunk the span says nothing about tokens: no estimate."""
    assert not [key for key in span.attributes or {} if key.startswith("gen_ai.usage.")], span.attributes


def assert_clean(span: ReadableSpan) -> None:
    """A call that succeeded: no error on its span."""
    attributes = span.attributes or {}
    assert span.status.status_code is StatusCode.UNSET and "error.type" not in attributes
    assert not [event for event in span.events if event.name == "exception"]


def test_the_strict_server_refuses_what_it_does_not_know(strict: OpenAIServer) -> None:
    refused = outcome(azure(strict, OLD, False), "probe-old", stream_options={"include_usage": True})
    assert refused[:3] == ("error", "BadRequestError", 400)
    assert "Unrecognized request argument supplied: stream_options" in refused[3]
    unknown = outcome(compatible(strict, False), "probe-v1", extra_body={"vendor_flag": True})
    assert unknown[:3] == ("error", "BadRequestError", 400)
    assert "Unrecognized request argument supplied: vendor_flag" in unknown[3]
    accepted = outcome(azure(strict, NEW, False), "probe-new", stream_options={"include_usage": True})
    assert accepted[0] == "chunks" and accepted[1][-1]["usage"]["completion_tokens"] == count_tokens(REPLY)
    ((path, _),) = sent(strict, "probe-new")
    assert path == f"/openai/deployments/probe-new/chat/completions?api-version={NEW}"


@SYNC_AND_ASYNC
@pytest.mark.parametrize("version", [OLD, NEW])
def test_azure_is_asked_from_api_version_2024_09_01_and_the_app_sees_the_same_chunks(
    instrument: Instrument, strict: OpenAIServer, asynchronous: bool, version: str
) -> None:
    model = f"azure-{version}-{asynchronous}"
    bare = outcome(azure(strict, version, asynchronous), model)
    captured = instrument()
    traced = outcome(azure(strict, version, asynchronous), model)
    assert bare[0] == "chunks" and traced == bare  # the usage-only chunk we asked for stays hidden
    ours = version == NEW
    assert asked(strict, model) == [False, ours]
    bare_headers, traced_headers = [
        {k.lower(): v for k, v in headers.items() if k.lower() != "content-length"}
        for _, body, headers in strict.requests
        if body.get("model") == model
    ]
    assert traced_headers == bare_headers  # no header of ours (no traceparent)
    span = captured.span()
    assert span.attributes["gen_ai.provider.name"] == "azure.ai.openai"
    assert_clean(span)
    assert "http.request.resend_count" not in span.attributes
    tokens = sorted(point.sum for point in captured.points("gen_ai.client.token.usage"))
    if ours:
        assert span.attributes["gen_ai.usage.output_tokens"] == count_tokens(REPLY)
        assert tokens == sorted([count_tokens(MESSAGES[0]["content"]), count_tokens(REPLY)])
    else:
        assert_no_tokens(span)
        assert tokens == []


@SYNC_AND_ASYNC
@pytest.mark.parametrize("server_kind", ["azure-2024-02-15-preview", "openai-compatible"])
def test_a_refused_usage_request_is_made_again_as_the_app_made_it_and_not_asked_again(
    instrument: Instrument, strict: OpenAIServer, asynchronous: bool, server_kind: str
) -> None:
    make = azure(strict, OLD, asynchronous) if server_kind.startswith("azure") else compatible(strict, asynchronous)
    model = f"refused-{server_kind}-{asynchronous}"
    bare = outcome(make, model)
    captured = instrument(**ASK_STREAM_USAGE)
    first, second = outcome(make, model), outcome(make, model)
    assert bare[0] == "chunks" and first == bare and second == bare
    # bare; ours refused, then the call as the app made it; the next call not asked again
    assert asked(strict, model) == [False, True, False, False]
    spans = captured.spans()
    assert len(spans) == 2  # one span per call of the app
    assert spans[0].attributes["http.request.resend_count"] == 1  # the request was sent twice
    assert "http.request.resend_count" not in spans[1].attributes
    for span in spans:
        assert_clean(span)
        assert_no_tokens(span)
    (duration,) = captured.points("gen_ai.client.operation.duration")
    assert duration.count == 2 and "error.type" not in duration.attributes
    assert captured.points("gen_ai.client.token.usage") == []


@SYNC_AND_ASYNC
def test_errors_that_are_not_a_refusal_of_ours_reach_the_app_as_bare(
    instrument: Instrument, strict: OpenAIServer, asynchronous: bool
) -> None:
    make = azure(strict, OLD, asynchronous)
    vendor, own = f"vendor-{asynchronous}", f"own-{asynchronous}"
    # an argument of the app's own that the server does not know, and the app's own usage request
    bare_vendor = outcome(make, vendor, extra_body={"vendor_flag": True})
    bare_own = outcome(make, own, stream_options={"include_usage": True})
    captured = instrument(**ASK_STREAM_USAGE)
    assert outcome(make, vendor, extra_body={"vendor_flag": True}) == bare_vendor
    assert outcome(make, own, stream_options={"include_usage": True}) == bare_own
    assert bare_vendor[:3] == bare_own[:3] == ("error", "BadRequestError", 400)
    assert asked(strict, vendor) == [False, True]  # refused for the app's argument: not made again
    assert asked(strict, own) == [True, True]
    for span in captured.spans():
        assert span.status.status_code is StatusCode.ERROR and "http.request.resend_count" not in span.attributes


@SYNC_AND_ASYNC
@pytest.mark.parametrize("wrapper", ["with_raw_response", "with_streaming_response"])
def test_calls_that_hand_back_the_http_response_are_left_alone(
    instrument: Instrument, strict: OpenAIServer, asynchronous: bool, wrapper: str
) -> None:
    model = f"http-{wrapper}-{asynchronous}"
    make = azure(strict, OLD, asynchronous)

    def text() -> str:
        create = getattr(make().chat.completions, wrapper).create
        request = {"model": model, "messages": MESSAGES, "stream": True}
        if not asynchronous:
            with contextlib.ExitStack() as stack:
                response = create(**request)
                if wrapper == "with_streaming_response":
                    response = stack.enter_context(response)
                return "".join(c.choices[0].delta.content or "" for c in response.parse() if c.choices)

        async def read() -> str:
            async with contextlib.AsyncExitStack() as stack:
                response = create(**request)
                if wrapper == "with_streaming_response":
                    stream = await (await stack.enter_async_context(response)).parse()
                else:
                    stream = (await response).parse()  # the raw response parses without awaiting
                return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

        return asyncio.run(read())

    bare = text()
    captured = instrument(**ASK_STREAM_USAGE)
    assert text() == bare == REPLY
    assert asked(strict, model) == [False, False]
    assert_clean(captured.span())


@SYNC_AND_ASYNC
@MODES
def test_kotaemon_azure_chat_openai_streams_on_kotaemons_default_version(
    instrument: Instrument, strict: OpenAIServer, asynchronous: bool, env: dict[str, str]
) -> None:
    deployment = f"kt-azure-{asynchronous}-{bool(env)}"
    llm = AzureChatOpenAI(azure_endpoint=strict.url, azure_deployment=deployment, api_version=OLD, api_key=API_KEY)

    def text() -> str:
        if not asynchronous:
            return "".join(chunk.text for chunk in llm.stream("What is the answer?"))

        async def read() -> str:
            return "".join([chunk.text async for chunk in llm.astream("What is the answer?")])

        return asyncio.run(read())

    bare = text()
    captured = instrument(**env)
    assert text() == bare == REPLY
    assert asked(strict, deployment) == ([False, True, False] if env else [False, False])
    span = captured.span()  # Kotaemon's call and the client's: one span
    assert span.name == f"chat {deployment}"
    assert_clean(span)
    assert_no_tokens(span)


@SYNC_AND_ASYNC
@MODES
def test_langchain_azure_chat_openai_streams_on_kotaemons_default_version(
    instrument: Instrument, strict: OpenAIServer, asynchronous: bool, env: dict[str, str]
) -> None:
    """langchain-openai 1.x asks Azure for usage itself (its `stream_usage` is on unless a base URL or client is
    given), so on this version the app fails bare, and fails the same way instrumented: we change nothing there."""
    deployment = f"lc-azure-{asynchronous}-{bool(env)}"

    def text() -> str | tuple[str, str]:
        llm = langchain_openai.AzureChatOpenAI(  # a new model per run: its async client belongs to one event loop
            azure_endpoint=strict.url, azure_deployment=deployment, api_version=OLD, api_key=API_KEY, max_retries=0
        )
        try:
            if not asynchronous:
                return "".join(str(chunk.content) for chunk in llm.stream("What is the answer?"))

            async def read() -> str:
                return "".join([str(chunk.content) async for chunk in llm.astream("What is the answer?")])

            return asyncio.run(read())
        except openai.APIStatusError as error:
            return type(error).__name__, str(error)

    bare = text()
    captured = instrument(**env)
    assert text() == bare
    span = captured.span()  # LangChain's model run and the client's call: one span
    assert_no_tokens(span)
    if asked(strict, deployment)[0]:  # LangChain's own usage request: refused, bare and instrumented alike
        assert asked(strict, deployment) == [True, True] and "Unrecognized request argument" in bare[1]
        assert "http.request.resend_count" not in span.attributes
        return
    assert bare == REPLY
    assert asked(strict, deployment) == ([False, True, False] if env else [False, False])
    assert_clean(span)
