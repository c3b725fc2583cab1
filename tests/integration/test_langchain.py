"""In-process details of the LangChain integration: real langchain-core and langchain-openai, local server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any
from uuid import uuid4

import httpx
import openai
import pytest
import wrapt
from langchain_core.callbacks import AsyncCallbackManager, BaseCallbackHandler, CallbackManager
from langchain_core.documents import Document
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableGenerator, RunnableLambda, RunnablePassthrough
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI, OpenAI
from opentelemetry import baggage, trace
from opentelemetry import context as otel_context
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from opentelemetry_instrumentation_kotaemon import KotaemonInstrumentor
from opentelemetry_instrumentation_kotaemon.core.spans import ModelCall
from opentelemetry_instrumentation_kotaemon.core.telemetry import Telemetry
from opentelemetry_instrumentation_kotaemon.langchain import runs
from opentelemetry_instrumentation_kotaemon.langchain.handler import TelemetryCallbackHandler
from opentelemetry_instrumentation_kotaemon.settings import Settings
from tests.conftest import Captured
from tests.support.openai_server import ASK_STREAM_USAGE, REPLY, OpenAIServer, count_tokens

Instrument = Callable[..., Captured]
API_KEY = "sk-proj-unitSECRET0123456789abcdefgh"
QUESTION = "What is the answer?"


class FixedRetriever(BaseRetriever):
    """Returns the same two documents for every query (no network)."""

    def _get_relevant_documents(self, query: str, *, run_manager: Any = None) -> list[Document]:
        return [
            Document(page_content="The answer is 42 (mail bob@example.com).", metadata={"id": "doc-1"}),
            Document(page_content="Forty-two is the answer.", metadata={"id": "doc-2"}),
        ]


class ScoredDocument(Document):
    """A document type carrying its own score field (as some retrievers return)."""

    score: float | None = None


class ScoredRetriever(BaseRetriever):
    """Returns documents with ids and scores in the places LangChain retrievers put them (no network)."""

    documents: list[Document]

    def _get_relevant_documents(self, query: str, *, run_manager: Any = None) -> list[Document]:
        return self.documents


SCORED = [
    Document(id="a", page_content="Alpha text.", metadata={"score": 0.9}),  # a vector store's similarity score
    Document(page_content="Beta text.", metadata={"id": "b", "relevance_score": 0.5}),  # a compressor's score
    ScoredDocument(id="c", page_content="Gamma text.", score=0.25),
    Document(page_content="Delta text.", metadata={"score": float("nan")}),  # no id, a score JSON cannot carry
]


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@pytest.fixture
def model(openai_server: OpenAIServer) -> Callable[..., ChatOpenAI]:
    def make(name: str = "m-lc", **kwargs: Any) -> ChatOpenAI:
        kwargs.setdefault("max_retries", 0)
        # a client per model: langchain-openai otherwise shares one async client across event loops
        kwargs.setdefault("http_async_client", httpx.AsyncClient())
        return ChatOpenAI(base_url=openai_server.base_url, api_key=API_KEY, model=name, **kwargs)

    return make


@pytest.fixture
def detach_errors(caplog: pytest.LogCaptureFixture) -> Iterator[Callable[[], list[str]]]:
    """The "Failed to detach context" records logged during the test."""
    caplog.set_level(logging.ERROR, logger="opentelemetry.context")
    yield lambda: [r.getMessage() for r in caplog.records if "detach" in r.getMessage().lower()]


def rag_chain(model: ChatOpenAI) -> Any:
    prompt = ChatPromptTemplate.from_messages([("user", "Context: {context} Question: {question}")])
    docs = lambda documents: " ".join(d.page_content for d in documents)  # noqa: E731
    return (
        {"context": FixedRetriever() | RunnableLambda(docs), "question": RunnablePassthrough()}
        | prompt
        | model
        | StrOutputParser()
    )


def simple_chain(model: ChatOpenAI) -> Any:
    return ChatPromptTemplate.from_messages([("user", "{question}")]) | model | StrOutputParser()


def by_name(captured: Captured) -> dict[str, ReadableSpan]:
    spans = captured.spans()
    named = {s.name: s for s in spans}
    assert len(named) == len(spans), [s.name for s in spans]
    return named


def by_model(captured: Captured) -> dict[str, ReadableSpan]:
    return {str(s.attributes["gen_ai.request.model"]): s for s in captured.spans() if s.name.startswith("chat ")}


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def token_sums(captured: Captured) -> dict[str, int]:
    sums: dict[str, int] = {}
    for point in captured.points("gen_ai.client.token.usage"):
        kind = point.attributes["gen_ai.token.type"]
        sums[kind] = sums.get(kind, 0) + point.sum
    return sums


def tracker_handler() -> TelemetryCallbackHandler:
    """Our handler, found the way LangChain finds it: on a run's callback manager."""
    handlers = [h for h in CallbackManager.configure().handlers if isinstance(h, TelemetryCallbackHandler)]
    assert len(handlers) == 1
    return handlers[0]


def tracker() -> runs.RunTracker:
    """Our run table."""
    return tracker_handler().tracker


def test_chain_model_and_client_call_are_one_span_with_tokens_counted_once(
    instrument: Instrument, model: Callable[..., ChatOpenAI], detach_errors: Callable[[], list[str]]
) -> None:
    captured = instrument()
    answer = simple_chain(model(temperature=0.2, max_tokens=20)).invoke({"question": QUESTION})
    assert answer == REPLY
    spans = by_name(captured)
    assert set(spans) == {"invoke_workflow RunnableSequence", "chat m-lc"}  # no prompt/parser span, no second chat
    workflow, chat = spans["invoke_workflow RunnableSequence"], spans["chat m-lc"]
    assert parent_of(chat) == workflow.context.span_id
    assert workflow.parent is None
    assert workflow.attributes["gen_ai.workflow.name"] == "RunnableSequence"
    assert workflow.attributes["gen_ai.operation.name"] == "invoke_workflow"
    assert chat.kind == SpanKind.CLIENT
    attributes = chat.attributes
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.provider.name"] == "openai"
    assert attributes["gen_ai.request.model"] == "m-lc"
    assert attributes["gen_ai.request.temperature"] == 0.2
    assert attributes["gen_ai.request.max_tokens"] == 20
    assert attributes["gen_ai.usage.input_tokens"] == count_tokens(QUESTION)
    assert attributes["gen_ai.usage.output_tokens"] == count_tokens(REPLY)
    # learned by the OpenAI client layer below and merged into the LangChain span
    assert attributes["server.address"] == "127.0.0.1"
    assert attributes["gen_ai.response.id"] == "chatcmpl-test123"
    assert attributes["gen_ai.response.model"] == "m-lc-2024-01-01"
    assert token_sums(captured) == {"input": count_tokens(QUESTION), "output": count_tokens(REPLY)}
    assert len(captured.points("gen_ai.client.operation.duration")) == 1
    assert workflow.attributes["kotaemon.usage.output_tokens"] == count_tokens(REPLY)
    assert detach_errors() == []


def test_langchain_model_inside_an_outer_model_call_merges_all_three_layers(
    instrument: Instrument, model: Callable[..., ChatOpenAI]
) -> None:
    """A component above LangChain (Kotaemon's LC wrappers) that reports the request itself gets it once."""
    captured = instrument()
    outer_layer = Telemetry(Settings(), tracer_provider=captured.tracer_provider)
    outer = outer_layer.start_model_call(ModelCall(operation="chat", provider="openai", request_model="m-lc"))
    assert outer is not None
    token = outer.activate()
    try:
        asyncio.run(model().ainvoke(QUESTION))
        model().invoke(QUESTION)
    finally:
        outer.deactivate(token)
    outer.finish()
    span = captured.span()  # no LangChain span, no OpenAI span: both merged into the outer call
    assert span.attributes["gen_ai.response.id"] == "chatcmpl-test123"
    assert span.attributes["gen_ai.usage.output_tokens"] == count_tokens(REPLY)
    assert span.attributes["server.address"] == "127.0.0.1"


def test_astream_events_still_work(instrument: Instrument, model: Callable[..., ChatOpenAI]) -> None:
    captured = instrument()
    chain = simple_chain(model())

    async def main() -> list[str]:
        return [event["event"] async for event in chain.astream_events({"question": QUESTION}, version="v2")]

    events = asyncio.run(main())
    assert "on_chat_model_stream" in events and events[-1] == "on_chain_end"
    spans = by_name(captured)
    assert parent_of(spans["chat m-lc"]) == spans["invoke_workflow RunnableSequence"].context.span_id
    assert len(tracker()) == 0


def test_request_parameters_come_from_langchain_invocation_params(
    instrument: Instrument, model: Callable[..., ChatOpenAI]
) -> None:
    captured = instrument()
    model(top_p=0.5, seed=3, frequency_penalty=0.25, presence_penalty=0.5, temperature=0).invoke(QUESTION, stop=["END"])
    attributes = captured.span().attributes
    assert attributes["gen_ai.request.top_p"] == 0.5
    assert attributes["gen_ai.request.seed"] == 3
    assert attributes["gen_ai.request.frequency_penalty"] == 0.25
    assert attributes["gen_ai.request.presence_penalty"] == 0.5
    assert attributes["gen_ai.request.temperature"] == 0
    assert attributes["gen_ai.request.stop_sequences"] == ("END",)
    assert attributes["kotaemon.component"] == "ChatOpenAI"
    assert attributes["kotaemon.span.kind"] == "llm"


def test_chain_nests_under_the_app_span(instrument: Instrument, model: Callable[..., ChatOpenAI]) -> None:
    captured = instrument()
    with captured.tracer_provider.get_tracer("app").start_as_current_span("request") as request:
        simple_chain(model()).invoke({"question": QUESTION})
    spans = by_name(captured)
    assert parent_of(spans["invoke_workflow RunnableSequence"]) == request.get_span_context().span_id
    assert {s.context.trace_id for s in spans.values()} == {request.get_span_context().trace_id}


def test_async_invoke_stream_and_batch_keep_each_model_under_its_chain(
    instrument: Instrument, model: Callable[..., ChatOpenAI], detach_errors: Callable[[], list[str]]
) -> None:
    captured = instrument(**ASK_STREAM_USAGE)
    chain = simple_chain(model())

    async def main() -> None:
        await chain.ainvoke({"question": QUESTION})
        assert "".join([c async for c in chain.astream({"question": QUESTION})]) == REPLY
        await chain.abatch([{"question": "one"}, {"question": "two words"}])
        await asyncio.gather(*(chain.ainvoke({"question": f"q {i}"}) for i in range(3)))

    asyncio.run(main())
    spans = captured.spans()
    workflows = {s.context.span_id: s for s in spans if s.name == "invoke_workflow RunnableSequence"}
    chats = [s for s in spans if s.name == "chat m-lc"]
    assert len(workflows) == len(chats) == 7
    assert all(parent_of(c) in workflows for c in chats)
    assert len({parent_of(c) for c in chats}) == 7  # one model call per chain run
    assert len({w.context.trace_id for w in workflows.values()}) == 7  # each top-level run is its own trace
    assert all(c.context.trace_id == workflows[parent_of(c)].context.trace_id for c in chats)  # type: ignore[index]
    assert token_sums(captured)["output"] == 7 * count_tokens(REPLY)
    assert detach_errors() == []
    assert len(tracker()) == 0


def test_stream_records_time_to_first_chunk(instrument: Instrument, model: Callable[..., ChatOpenAI]) -> None:
    captured = instrument(**ASK_STREAM_USAGE)
    chunks = list(simple_chain(model()).stream({"question": QUESTION}))
    assert "".join(chunks) == REPLY
    chat = by_name(captured)["chat m-lc"]
    assert chat.attributes["gen_ai.request.stream"] is True
    assert chat.attributes["gen_ai.response.time_to_first_chunk"] > 0
    assert "kotaemon.stream.chunk_count" not in chat.attributes  # set only on streams left early or failed
    assert "kotaemon.stream.abandoned" not in chat.attributes
    assert chat.attributes["gen_ai.usage.output_tokens"] == count_tokens(REPLY)
    assert len(captured.points("gen_ai.client.operation.time_to_first_chunk")) == 1


@pytest.mark.parametrize("asynchronous", [False, True])
def test_early_stopped_stream_ends_its_spans_as_abandoned(
    instrument: Instrument,
    model: Callable[..., ChatOpenAI],
    detach_errors: Callable[[], list[str]],
    asynchronous: bool,
) -> None:
    captured = instrument()
    chain = simple_chain(model())
    if asynchronous:

        async def main() -> None:
            stream = chain.astream({"question": QUESTION})
            async for _ in stream:
                break
            await stream.aclose()  # type: ignore[attr-defined]

        asyncio.run(main())
    else:
        stream = chain.stream({"question": QUESTION})
        next(stream)
        stream.close()
    spans = by_name(captured)
    chat, workflow = spans["chat m-lc"], spans["invoke_workflow RunnableSequence"]
    assert workflow.attributes["kotaemon.stream.abandoned"] is True
    assert workflow.status.status_code is StatusCode.UNSET
    # LangChain itself reads the model stream to its end after the caller leaves (for its own tracing), so the
    # model span is complete; it is ended, not an error, and sits under the workflow.
    assert chat.status.status_code is StatusCode.UNSET
    assert parent_of(chat) == workflow.context.span_id
    assert detach_errors() == []
    assert len(tracker()) == 0


@pytest.mark.parametrize("asynchronous", [False, True])
def test_early_stopped_model_stream_is_abandoned_not_an_error(
    instrument: Instrument,
    model: Callable[..., ChatOpenAI],
    detach_errors: Callable[[], list[str]],
    asynchronous: bool,
) -> None:
    captured = instrument()
    llm = model()
    if asynchronous:

        async def main() -> None:
            stream = llm.astream(QUESTION)
            async for _ in stream:
                break
            await stream.aclose()  # type: ignore[attr-defined]

        asyncio.run(main())
    else:
        stream = llm.stream(QUESTION)
        next(stream)
        stream.close()
    span = captured.span()
    assert span.name == "chat m-lc"
    assert span.attributes["kotaemon.stream.abandoned"] is True
    assert span.attributes["kotaemon.stream.chunk_count"] == 1  # the one chunk the reader took
    assert span.status.status_code is StatusCode.UNSET
    assert span.parent is None
    assert [p.value for p in captured.points("kotaemon.streams.abandoned")] == [1]
    assert detach_errors() == []
    assert len(tracker()) == 0


def test_batch_runs_in_threads_with_right_parents(instrument: Instrument, model: Callable[..., ChatOpenAI]) -> None:
    captured = instrument()
    answers = simple_chain(model()).batch([{"question": f"q{i}"} for i in range(4)], config={"max_concurrency": 4})
    assert answers == [REPLY] * 4
    spans = captured.spans()
    workflows = {s.context.span_id for s in spans if s.name.startswith("invoke_workflow")}
    chats = [s for s in spans if s.name == "chat m-lc"]
    assert len(workflows) == 4
    assert {parent_of(c) for c in chats} == workflows


def test_rag_chain_retrieval_span_without_content(instrument: Instrument, model: Callable[..., ChatOpenAI]) -> None:
    captured = instrument()
    rag_chain(model()).invoke(QUESTION)
    spans = by_name(captured)
    assert set(spans) == {"invoke_workflow RunnableSequence", "retrieval FixedRetriever", "chat m-lc"}
    workflow, retrieval = spans["invoke_workflow RunnableSequence"], spans["retrieval FixedRetriever"]
    assert parent_of(retrieval) == workflow.context.span_id
    assert parent_of(spans["chat m-lc"]) == workflow.context.span_id
    assert retrieval.kind == SpanKind.CLIENT
    assert retrieval.attributes["gen_ai.operation.name"] == "retrieval"
    assert retrieval.attributes["kotaemon.documents.count"] == 2
    assert retrieval.attributes["kotaemon.documents.ids"] == ("doc-1", "doc-2")
    assert "gen_ai.retrieval.documents" not in retrieval.attributes
    assert "gen_ai.retrieval.query.text" not in retrieval.attributes
    assert [p.sum for p in captured.points("kotaemon.retrieval.documents")] == [2]
    assert len(captured.points("kotaemon.retrieval.duration")) == 1


def test_rag_chain_content_is_captured_and_redacted_when_asked(
    instrument: Instrument, model: Callable[..., ChatOpenAI]
) -> None:
    captured = instrument(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="true")
    rag_chain(model()).invoke(QUESTION)
    spans = by_name(captured)
    retrieval = spans["retrieval FixedRetriever"].attributes
    assert retrieval["gen_ai.retrieval.query.text"] == QUESTION
    documents = str(retrieval["gen_ai.retrieval.documents"])
    assert "Forty-two is the answer." in documents
    assert "bob@example.com" not in documents  # redacted like every captured value
    chat = spans["chat m-lc"].attributes
    assert "Forty-two is the answer." in str(chat["gen_ai.input.messages"])
    assert REPLY in str(chat["gen_ai.output.messages"])


def test_retrieved_documents_are_id_and_score_objects_with_content(instrument: Instrument) -> None:
    captured = instrument(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="true")
    ScoredRetriever(documents=SCORED).invoke(QUESTION)
    attributes = captured.span().attributes
    assert json.loads(str(attributes["gen_ai.retrieval.documents"])) == [
        {"id": "a", "score": 0.9, "content": "Alpha text."},
        {"id": "b", "score": 0.5, "content": "Beta text."},
        {"id": "c", "score": 0.25, "content": "Gamma text."},
        {"content": "Delta text."},
    ]
    assert attributes["kotaemon.documents.count"] == 4
    # parallel lists only when every document has an id (a score): a gap would shift the others
    assert "kotaemon.documents.ids" not in attributes
    assert "kotaemon.documents.scores" not in attributes


def test_retrieved_documents_are_opt_in_ids_and_scores_are_not(instrument: Instrument) -> None:
    captured = instrument()
    ScoredRetriever(documents=SCORED[:3]).invoke(QUESTION)
    attributes = captured.span().attributes
    assert "gen_ai.retrieval.documents" not in attributes
    assert attributes["kotaemon.documents.ids"] == ("a", "b", "c")
    assert attributes["kotaemon.documents.scores"] == (0.9, 0.5, 0.25)


def test_retrieved_documents_are_capped_and_stay_json_under_the_length_cap(instrument: Instrument) -> None:
    captured = instrument(
        OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="true", OTEL_KOTAEMON_CONTENT_MAX_LENGTH="12000"
    )
    many = [
        Document(id=f"d{i}", page_content=f"text {i} " + "x" * 500, metadata={"score": i / 200}) for i in range(150)
    ]
    ScoredRetriever(documents=many).invoke(QUESTION)
    attributes = captured.span().attributes
    assert attributes["kotaemon.documents.count"] == 150  # the count is whole
    assert attributes["kotaemon.documents.ids"] == tuple(f"d{i}" for i in range(100))  # the lists are capped
    value = str(attributes["gen_ai.retrieval.documents"])
    assert len(value) <= 12000
    found = json.loads(value)  # cut texts, never a cut structure
    assert [d["id"] for d in found] == [f"d{i}" for i in range(100)]
    assert found[1]["score"] == 0.005
    assert all(d["content"].startswith(f"text {i}") and "[truncated" in d["content"] for i, d in enumerate(found))


def test_conversation_and_user_from_the_root_run_metadata(
    instrument: Instrument, model: Callable[..., ChatOpenAI]
) -> None:
    captured = instrument()
    metadata = {"thread_id": "thread-7", "user_id": "alice"}
    simple_chain(model()).invoke({"question": QUESTION}, config={"metadata": metadata})
    simple_chain(model()).invoke({"question": QUESTION})
    spans = sorted(captured.spans(), key=lambda s: s.start_time or 0)
    with_thread = [s for s in spans if s.attributes.get("gen_ai.conversation.id") == "thread-7"]
    # on the workflow span (allowed there since semantic-conventions-genai #410) and every span below it
    assert sorted(s.name for s in with_thread) == ["chat m-lc", "invoke_workflow RunnableSequence"]
    assert {s.attributes["user.id"] for s in with_thread} == {Telemetry(Settings()).user_id("alice")}
    assert len(spans) == 4  # the run without the metadata names no conversation
    assert not any("user.id" in s.attributes for s in spans if s not in with_thread)


def test_ids_on_the_spans_that_learn_them_only_when_asked(
    instrument: Instrument, model: Callable[..., ChatOpenAI]
) -> None:
    captured = instrument(OTEL_KOTAEMON_IDS_ON_EVERY_SPAN="false")
    context = baggage.set_baggage("session.id", "s-1", baggage.set_baggage("kotaemon.variant", "b"))
    token = otel_context.attach(context)
    try:
        simple_chain(model()).invoke({"question": QUESTION}, config={"metadata": {"thread_id": "thread-7"}})
    finally:
        otel_context.detach(token)
    spans = by_name(captured)
    root = spans["invoke_workflow RunnableSequence"].attributes
    assert (root["gen_ai.conversation.id"], root["session.id"], root["kotaemon.variant"]) == ("thread-7", "s-1", "b")
    assert not {"gen_ai.conversation.id", "session.id", "kotaemon.variant"} & set(spans["chat m-lc"].attributes)


def test_tool_span_and_content_policy(instrument: Instrument) -> None:
    captured = instrument()
    assert add.invoke({"a": 2, "b": 3}) == 5
    span = captured.span()
    assert span.name == "execute_tool add"
    assert span.attributes["gen_ai.tool.name"] == "add"
    assert span.attributes["gen_ai.tool.description"] == "Add two numbers."
    assert "gen_ai.tool.call.arguments" not in span.attributes
    assert [p.count for p in captured.points("gen_ai.execute_tool.duration")] == [1]


def test_tool_content_when_captured(instrument: Instrument) -> None:
    captured = instrument(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="true")
    add.invoke({"a": 2, "b": 3})
    attributes = captured.span().attributes
    assert "'a': 2" in attributes["gen_ai.tool.call.arguments"]
    assert attributes["gen_ai.tool.call.result"] == "5"


def test_tool_error_is_an_error_span(instrument: Instrument) -> None:
    captured = instrument()

    @tool
    def explode(x: int) -> int:
        """Always fails."""
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        explode.invoke({"x": 1})
    span = captured.span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "ValueError"
    assert [p.attributes["error.type"] for p in captured.points("kotaemon.errors")] == ["ValueError"]


def test_a_tool_error_handed_back_as_the_answer_is_an_error_span(instrument: Instrument) -> None:
    from langchain_core.tools import ToolException

    captured = instrument()

    @tool
    def lookup(city: str) -> str:
        """Fails, and LangChain hands the error back to the model as the tool's answer."""
        raise ToolException(f"no weather for {city}")

    lookup.handle_tool_error = True
    message = lookup.invoke({"name": "lookup", "args": {"city": "Oz"}, "id": "call-1", "type": "tool_call"})
    assert message.status == "error" and message.content == "no weather for Oz"  # the app gets what it got before
    span = captured.span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "no weather for Oz"
    assert span.attributes["error.type"] == "tool_error"
    assert [p.attributes["error.type"] for p in captured.points("gen_ai.execute_tool.duration")] == ["tool_error"]


def test_client_calls_inside_tools_and_lambdas_nest_under_them(
    instrument: Instrument, openai_server: OpenAIServer, detach_errors: Callable[[], list[str]]
) -> None:
    """A raw OpenAI call made inside a tool or a lambda is a child of the tool span / the chain, sync and async."""
    captured = instrument()
    client = openai.OpenAI(base_url=openai_server.base_url, api_key=API_KEY)
    async_client = openai.AsyncOpenAI(base_url=openai_server.base_url, api_key=API_KEY)
    messages = [{"role": "user", "content": QUESTION}]

    @tool
    def ask(question: str) -> str:
        """Ask the model directly."""
        return client.chat.completions.create(model="m-in-tool", messages=messages).choices[0].message.content or ""

    @tool
    async def aask(question: str) -> str:
        """Ask the model directly, asynchronously."""
        reply = await async_client.chat.completions.create(model="m-in-async-tool", messages=messages)
        return reply.choices[0].message.content or ""

    def in_lambda(question: str) -> str:
        return client.chat.completions.create(model="m-in-lambda", messages=messages).choices[0].message.content or ""

    ask.invoke({"question": QUESTION})
    asyncio.run(aask.ainvoke({"question": QUESTION}))
    (RunnableLambda(in_lambda) | StrOutputParser()).invoke(QUESTION)
    spans = by_name(captured)
    assert parent_of(spans["chat m-in-tool"]) == spans["execute_tool ask"].context.span_id
    assert parent_of(spans["chat m-in-async-tool"]) == spans["execute_tool aask"].context.span_id
    assert parent_of(spans["chat m-in-lambda"]) == spans["invoke_workflow RunnableSequence"].context.span_id
    assert detach_errors() == []


@pytest.mark.parametrize("asynchronous", [False, True])
def test_fallback_records_which_branch_ran_and_why(
    instrument: Instrument, model: Callable[..., ChatOpenAI], asynchronous: bool
) -> None:
    captured = instrument()
    chain = model("error-500").with_fallbacks([model("m-backup")])
    answer = asyncio.run(chain.ainvoke(QUESTION)) if asynchronous else chain.invoke(QUESTION)
    assert answer.content == REPLY
    spans = by_name(captured)
    wrapper, primary, backup = (
        spans["invoke_workflow RunnableWithFallbacks"],
        spans["chat error-500"],
        spans["chat m-backup"],
    )
    assert parent_of(primary) == parent_of(backup) == wrapper.context.span_id
    assert primary.status.status_code is StatusCode.ERROR
    assert primary.attributes["error.type"]
    assert wrapper.status.status_code is StatusCode.UNSET
    assert wrapper.attributes["kotaemon.fallback.branch"] == "fallback"
    assert wrapper.attributes["kotaemon.fallback.index"] == 1
    assert wrapper.attributes["kotaemon.fallback.primary_error"] == primary.attributes["error.type"]
    # the failed primary counts no tokens; the fallback's count once
    assert token_sums(captured) == {"input": count_tokens(QUESTION), "output": count_tokens(REPLY)}


def test_fallback_inside_a_chain_reports_the_primary_branch(
    instrument: Instrument, model: Callable[..., ChatOpenAI]
) -> None:
    captured = instrument()
    chain = ChatPromptTemplate.from_messages([("user", "{q}")]) | model().with_fallbacks([model("m-backup")])
    chain.invoke({"q": QUESTION})
    spans = by_name(captured)
    wrapper = spans["RunnableWithFallbacks"]
    assert parent_of(wrapper) == spans["invoke_workflow RunnableSequence"].context.span_id
    assert parent_of(spans["chat m-lc"]) == wrapper.context.span_id
    assert wrapper.attributes["kotaemon.fallback.branch"] == "primary"
    assert wrapper.attributes["kotaemon.fallback.index"] == 0
    assert "kotaemon.fallback.primary_error" not in wrapper.attributes
    assert workflow_durations(captured) == {"RunnableSequence": 1}  # the wrapper inside is no workflow


def test_retry_counts_attempts(instrument: Instrument) -> None:
    captured = instrument()
    calls = {"n": 0}

    def flaky(x: int) -> int:
        calls["n"] += 1
        if calls["n"] < 3:
            raise ConnectionError("try again")
        return x

    retrying = RunnableLambda(flaky).with_retry(stop_after_attempt=3, wait_exponential_jitter=False)
    assert (RunnableLambda(lambda x: x + 1) | retrying).invoke(1) == 2
    spans = by_name(captured)
    retry = spans["flaky"]
    assert parent_of(retry) == spans["invoke_workflow RunnableSequence"].context.span_id
    assert retry.attributes["kotaemon.retry.attempts"] == 3
    assert retry.status.status_code is StatusCode.UNSET
    assert workflow_durations(captured) == {"RunnableSequence": 1}


def test_agent_named_runnable_is_an_agent_span(instrument: Instrument, model: Callable[..., ChatOpenAI]) -> None:
    captured = instrument()
    llm = model()

    def agent(question: str) -> str:
        total = add.invoke({"a": 40, "b": 2})
        return str(llm.invoke(f"{question} {total}").content)

    chain = RunnablePassthrough() | RunnableLambda(agent).with_config(run_name="ResearchAgent")
    assert chain.invoke(QUESTION) == REPLY
    spans = by_name(captured)
    agent_span = spans["invoke_agent ResearchAgent"]
    assert agent_span.attributes["gen_ai.agent.name"] == "ResearchAgent"
    assert "gen_ai.agent.id" not in agent_span.attributes  # no run id in its place (semantic-conventions-genai #242)
    assert parent_of(agent_span) == spans["invoke_workflow RunnableSequence"].context.span_id
    assert parent_of(spans["execute_tool add"]) == agent_span.context.span_id
    assert parent_of(spans["chat m-lc"]) == agent_span.context.span_id
    assert len(captured.points("gen_ai.invoke_agent.duration")) == 1


def test_every_runnable_becomes_a_span_when_asked(instrument: Instrument, model: Callable[..., ChatOpenAI]) -> None:
    captured = instrument(OTEL_KOTAEMON_LANGCHAIN_ALL_RUNNABLES="true")
    simple_chain(model()).invoke({"question": QUESTION})
    spans = by_name(captured)
    assert set(spans) == {
        "invoke_workflow RunnableSequence",
        "ChatPromptTemplate",
        "chat m-lc",
        "StrOutputParser",
    }
    workflow = spans["invoke_workflow RunnableSequence"].context.span_id
    assert all(parent_of(spans[n]) == workflow for n in ("ChatPromptTemplate", "chat m-lc", "StrOutputParser"))
    assert workflow_durations(captured) == {"RunnableSequence": 1}  # the runnables inside are no workflows


def workflow_durations(captured: Captured) -> dict[str, int]:
    """How many durations each workflow recorded into `gen_ai.invoke_workflow.duration`, by workflow name."""
    return {p.attributes["gen_ai.workflow.name"]: p.count for p in captured.points("gen_ai.invoke_workflow.duration")}


def test_prompt_name_and_version_go_on_the_model_span(instrument: Instrument, model: Callable[..., ChatOpenAI]) -> None:
    captured = instrument()
    prompt = ChatPromptTemplate.from_messages([("user", "{q}")]).with_config(
        run_name="qa_prompt", metadata={"prompt_version": "v3"}
    )
    hub_prompt = ChatPromptTemplate.from_messages([("user", "{q}")])
    hub_prompt.metadata = {"lc_hub_repo": "team/rag-prompt", "lc_hub_commit_hash": "c0ffee"}
    (prompt | model("m-named")).invoke({"q": QUESTION})
    (hub_prompt | model("m-hub")).invoke({"q": QUESTION})
    model("m-bare").invoke(QUESTION)
    prompt.invoke({"q": QUESTION})  # alone, a prompt template is no span either
    StrOutputParser().invoke("text")
    assert len(captured.spans()) == 5  # two chains with a model each, one bare model
    spans = by_model(captured)
    assert spans["m-named"].attributes["gen_ai.prompt.name"] == "qa_prompt"
    assert spans["m-named"].attributes["gen_ai.prompt.version"] == "v3"
    assert spans["m-hub"].attributes["gen_ai.prompt.name"] == "team/rag-prompt"
    assert spans["m-hub"].attributes["gen_ai.prompt.version"] == "c0ffee"
    assert not any("kotaemon.prompt.version" in s.attributes for s in captured.spans())  # the conventions' name now
    assert "gen_ai.prompt.name" not in spans["m-bare"].attributes


def test_text_completion_model_merges_the_client_call(instrument: Instrument, openai_server: OpenAIServer) -> None:
    captured = instrument()
    llm = OpenAI(base_url=openai_server.base_url, api_key=API_KEY, model="m-text", max_tokens=16, max_retries=0)
    assert llm.invoke("Say it") == REPLY
    assert "".join(llm.stream("Say it")).strip() == REPLY
    spans = captured.spans()
    assert [s.name for s in spans] == ["text_completion m-text", "text_completion m-text"]
    invoked, streamed = spans
    assert invoked.attributes["gen_ai.usage.input_tokens"] == 2
    assert invoked.attributes["gen_ai.request.max_tokens"] == 16
    assert invoked.attributes["server.address"] == "127.0.0.1"
    assert streamed.attributes["gen_ai.request.stream"] is True
    assert streamed.attributes["gen_ai.response.time_to_first_chunk"] > 0


def test_user_callbacks_are_kept_and_ours_is_added_once(
    instrument: Instrument, model: Callable[..., ChatOpenAI]
) -> None:
    captured = instrument()

    class Recorder(BaseCallbackHandler):
        def __init__(self) -> None:
            self.events: list[str] = []

        def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
            self.events.append("chat")

        def on_chain_end(self, outputs: Any, **kwargs: Any) -> None:
            self.events.append("chain_end")

    recorder = Recorder()
    callbacks: list[BaseCallbackHandler] = [recorder]
    simple_chain(model()).invoke({"question": QUESTION}, config={"callbacks": callbacks})
    assert callbacks == [recorder]  # the user's list is not touched
    assert "chat" in recorder.events and "chain_end" in recorder.events
    # a manager the app builds itself: its runs get our handler, the manager itself is left as it was
    manager = CallbackManager(handlers=[recorder])
    simple_chain(model()).invoke({"question": QUESTION}, config={"callbacks": manager})
    assert manager.handlers == [recorder] and manager.inheritable_handlers == []
    assert [s.name for s in captured.spans()].count("chat m-lc") == 2
    for current in (
        CallbackManager.configure(manager, [recorder]),
        AsyncCallbackManager.configure([recorder], None),
    ):
        ours = [h for h in current.handlers if isinstance(h, TelemetryCallbackHandler)]
        assert len(ours) == 1
        assert recorder in current.handlers
        assert ours[0] in current.inheritable_handlers


def test_run_bookkeeping_does_not_grow_over_10000_runs(instrument: Instrument) -> None:
    instrument()
    table = tracker()
    peak = {"size": 0}

    def look(x: int) -> int:
        peak["size"] = max(peak["size"], len(table))
        if x % 10 == 3:
            raise KeyError(x)
        return x

    def gen(items: Iterator[int]) -> Iterator[int]:
        for item in items:
            yield item
            yield item

    chain = RunnableLambda(lambda x: x) | RunnableLambda(look)
    streaming = RunnableLambda(lambda x: x) | RunnableGenerator(gen)
    runs_started = 0
    for i in range(2_000):
        with contextlib.suppress(KeyError):
            chain.invoke(i)  # 3 runs
        stream = streaming.stream(i)  # 3 runs, every other one abandoned
        next(stream)
        if i % 2:
            stream.close()
        else:
            list(stream)
        runs_started += 6
        assert len(table) == 0
    add.invoke({"a": 1, "b": 2})
    FixedRetriever().invoke("q")
    assert runs_started + 2 >= 10_000
    assert len(table) == 0
    assert 0 < peak["size"] <= 3
    assert runs._FRAME.get() is None


def test_chain_decisions_are_cached_per_class_and_name_and_stay_bounded(
    instrument: Instrument, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = 16
    monkeypatch.setattr(runs, "_DECISIONS_KEPT", kept)
    captured = instrument()
    table = tracker()
    for i in range(kept + 100):  # more distinct run names than the cache keeps: later ones are decided uncached
        name = f"Step{i}Agent" if i % 2 else f"step{i}"
        (RunnableLambda(lambda x: x) | RunnableLambda(lambda x: x).with_config(run_name=name)).invoke(i)
        assert len(table._decisions) <= kept
    assert len(table._decisions) == kept
    names = [span.name for span in captured.spans()]
    agents = [name for name in names if name.startswith("invoke_agent ")]
    assert len(agents) == (kept + 100) // 2  # every run named like an agent, cached or not, and no other
    assert agents[-1] == f"invoke_agent Step{kept + 99}Agent"
    assert len(names) == len(agents) + kept + 100  # plus one workflow span per invocation


def test_model_run_bookkeeping_is_empty_after_1000_runs_with_errors_and_abandoned_streams(
    instrument: Instrument, model: Callable[..., ChatOpenAI]
) -> None:
    captured = instrument()
    table = tracker()
    chain = simple_chain(model())
    failing = simple_chain(model("error-500"))
    runs_started = 0
    for i in range(100):
        chain.invoke({"question": QUESTION})  # 4 runs: sequence, prompt, model, parser
        with contextlib.suppress(openai.InternalServerError):
            failing.invoke({"question": QUESTION})  # 3 runs: the model fails, the parser never starts
        stream = chain.stream({"question": QUESTION})  # 4 runs, left after the first chunk
        next(stream)
        stream.close()
        runs_started += 11
        assert len(table) == 0, i
    assert runs_started >= 1_000
    assert len(table) == 0
    assert runs._FRAME.get() is None
    chats = [s for s in captured.spans() if s.name.startswith("chat ")]
    assert len(chats) == 300 and sum(s.status.status_code == StatusCode.ERROR for s in chats) == 100
    workflows = [s for s in captured.spans() if s.name == "invoke_workflow RunnableSequence"]
    assert sum(s.attributes.get("kotaemon.stream.abandoned") is True for s in workflows) == 100


def test_fail_safe_when_extraction_breaks(
    instrument: Instrument, model: Callable[..., ChatOpenAI], monkeypatch: pytest.MonkeyPatch
) -> None:
    captured = instrument()

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("extraction bug")

    monkeypatch.setattr(runs.extract, "model_call", broken)
    monkeypatch.setattr(runs.extract, "read_llm_result", broken)
    monkeypatch.setattr(runs.extract, "tool_result", broken)
    assert simple_chain(model()).invoke({"question": QUESTION}) == REPLY
    assert add.invoke({"a": 1, "b": 1}) == 2
    names = {s.name for s in captured.spans()}
    assert "invoke_workflow RunnableSequence" in names
    assert len(tracker()) == 0


def test_handler_ignores_garbage_payloads(instrument: Instrument) -> None:
    instrument()
    handler = tracker_handler()
    run_id, tool_run = uuid4(), uuid4()
    # none of these raise into LangChain (whose own error handling would log a warning)
    handler.on_chat_model_start(None, None, run_id=run_id, invocation_params=object(), metadata=42)  # type: ignore[arg-type]
    handler.on_llm_new_token(None, run_id=run_id)
    handler.on_llm_end(object(), run_id=run_id)
    handler.on_tool_start(object(), object(), run_id=tool_run, inputs=7)
    handler.on_tool_end(object(), run_id=tool_run)
    handler.on_retriever_end(object(), run_id=uuid4())
    handler.on_chain_error(ValueError(), run_id=uuid4())
    assert len(handler.tracker) == 0


def test_uninstrument_removes_every_wrapper_and_the_handler(
    model: Callable[..., ChatOpenAI], instrument: Instrument
) -> None:
    from langchain_core.language_models.chat_models import BaseChatModel
    from langchain_core.runnables.base import Runnable
    from langchain_core.tracers.context import _configure_hooks as configure_hooks
    from langchain_openai.chat_models.base import BaseChatOpenAI

    captured = instrument()
    methods = [
        (Runnable, "_call_with_config"),
        (BaseChatModel, "_generate_with_cache"),
        (BaseChatModel, "stream"),
        (BaseChatOpenAI, "_stream"),
    ]
    assert all(isinstance(vars(cls)[name], wrapt.FunctionWrapper) for cls, name in methods)
    KotaemonInstrumentor().uninstrument()
    assert not any(isinstance(vars(cls)[name], wrapt.FunctionWrapper) for cls, name in methods)
    assert not any(isinstance(h, TelemetryCallbackHandler) for h in CallbackManager.configure().handlers)
    assert not any(hook[0].get() is not None for hook in configure_hooks)  # our configure hook is gone
    simple_chain(model()).invoke({"question": QUESTION})
    assert captured.spans() == []
    instrument()  # instrumenting again adds exactly one handler, no stacked wrappers
    assert len([h for h in CallbackManager.configure().handlers if isinstance(h, TelemetryCallbackHandler)]) == 1
    assert not isinstance(vars(Runnable)["_call_with_config"].__wrapped__, wrapt.FunctionWrapper)


def test_runs_started_before_uninstrument_are_still_freed(
    instrument: Instrument, model: Callable[..., ChatOpenAI]
) -> None:
    instrument()
    table = tracker()
    stream = simple_chain(model()).stream({"question": QUESTION})
    next(stream)
    assert len(table) > 0
    KotaemonInstrumentor().uninstrument()
    assert "".join(stream)
    assert len(table) == 0
    assert trace.get_current_span().get_span_context().is_valid is False
