"""Under load: one span per call, each in the trace of the request that made it, none orphaned or crossed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import openai

from tests.conftest import Captured
from tests.support.openai_server import OpenAIServer

Instrument = Callable[..., Captured]


def _check(captured: Captured, calls: int) -> None:
    spans = captured.spans()
    requests = {s.context.span_id: s for s in spans if s.name.startswith("request ")}
    chats = [s for s in spans if s.name.startswith("chat ")]
    assert len(requests) == calls and len(chats) == calls
    for chat in chats:
        parent = requests[chat.parent.span_id]  # never orphaned
        assert parent.context.trace_id == chat.context.trace_id
        assert parent.name == "request " + chat.attributes["gen_ai.request.model"]  # never crossed
    assert len({s.context.trace_id for s in chats}) == calls


def test_threads(instrument: Instrument, openai_server: OpenAIServer) -> None:
    captured = instrument()
    tracer = captured.tracer_provider.get_tracer("app")
    client = openai.OpenAI(base_url=openai_server.base_url, api_key="k")

    def work(thread: int) -> None:
        for call in range(50):
            model = f"t{thread}-{call}"
            with tracer.start_as_current_span(f"request {model}"):
                stream = call % 2 == 1
                result = client.chat.completions.create(
                    model=model, messages=[{"role": "user", "content": "hi"}], stream=stream
                )
                if stream:
                    list(result)

    with ThreadPoolExecutor(20) as pool:
        list(pool.map(work, range(20)))
    _check(captured, 20 * 50)


def test_asyncio_tasks(instrument: Instrument, openai_server: OpenAIServer) -> None:
    captured = instrument()
    tracer = captured.tracer_provider.get_tracer("app")

    async def run() -> None:
        client = openai.AsyncOpenAI(base_url=openai_server.base_url, api_key="k")

        async def one(task: int) -> None:
            model = f"a{task}"
            with tracer.start_as_current_span(f"request {model}"):
                if task % 2:
                    stream = await client.chat.completions.create(
                        model=model, messages=[{"role": "user", "content": "hi"}], stream=True
                    )
                    async for _ in stream:
                        await asyncio.sleep(0)  # let the other tasks interleave between chunks
                else:
                    await client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])

        await asyncio.gather(*(one(task) for task in range(200)))

    asyncio.run(run())
    _check(captured, 200)


def test_langchain_chains_from_threads_and_tasks(instrument: Instrument, openai_server: OpenAIServer) -> None:
    import httpx
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_openai import ChatOpenAI

    captured = instrument()
    tracer = captured.tracer_provider.get_tracer("app")
    prompt = ChatPromptTemplate.from_messages([("user", "{question}")])

    def chain(model: str, **kwargs: object) -> object:
        return prompt | ChatOpenAI(model=model, base_url=openai_server.base_url, api_key="k", **kwargs)

    def work(thread: int) -> None:
        for call in range(10):
            model = f"lc-t{thread}-{call}"
            with tracer.start_as_current_span(f"request {model}"):
                chain(model).invoke({"question": "hi"})  # type: ignore[attr-defined]

    with ThreadPoolExecutor(10) as pool:
        list(pool.map(work, range(10)))

    async def run() -> None:
        async def one(task: int) -> None:
            model = f"lc-a{task}"
            with tracer.start_as_current_span(f"request {model}"):
                await chain(model, http_async_client=client).ainvoke({"question": "hi"})  # type: ignore[attr-defined]

        async with httpx.AsyncClient() as client:
            await asyncio.gather(*(one(task) for task in range(50)))

    asyncio.run(run())
    spans = captured.spans()
    by_id = {s.context.span_id: s for s in spans}
    chats = [s for s in spans if s.name.startswith("chat ")]
    assert len(chats) == 150
    for chat in chats:
        workflow = by_id[chat.parent.span_id]  # the chain's span, never orphaned
        assert workflow.name.startswith("invoke_workflow")
        request = by_id[workflow.parent.span_id]
        assert request.name == "request " + chat.attributes["gen_ai.request.model"]  # never crossed
        assert request.context.trace_id == chat.context.trace_id


def test_kotaemon_llms_from_threads(instrument: Instrument, openai_server: OpenAIServer) -> None:
    from tests.kotaemon_standin import use

    use()
    from kotaemon.llms import ChatOpenAI as KotaemonChat

    captured = instrument()
    tracer = captured.tracer_provider.get_tracer("app")

    def work(thread: int) -> None:
        for call in range(10):
            model = f"kt-t{thread}-{call}"
            with tracer.start_as_current_span(f"request {model}"):
                KotaemonChat(model=model, base_url=openai_server.base_url, api_key="k").invoke("hi")

    with ThreadPoolExecutor(10) as pool:
        list(pool.map(work, range(10)))
    _check(captured, 100)
