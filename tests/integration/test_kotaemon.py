"""Kotaemon components traced in process, on the stand-in package built on the real theflow and the real clients."""

from __future__ import annotations

import asyncio
import gc
import json
import types
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import wrapt

from tests.conftest import Captured
from tests.kotaemon_standin import use
from tests.kotaemon_standin.react_server import REACT_MODEL, react_server
from tests.support.openai_server import ASK_STREAM_USAGE, REPLY, OpenAIServer, count_tokens

use()

from kotaemon.agents import AgentOutput, BaseAgent, BaseTool, ComponentTool, ReactAgent, RewooAgent  # noqa: E402
from kotaemon.base import BaseComponent, Document, HumanMessage, RetrievedDocument  # noqa: E402
from kotaemon.embeddings import FastEmbedEmbeddings, LCOpenAIEmbeddings, OpenAIEmbeddings  # noqa: E402
from kotaemon.indices import BaseRetrieval, VectorIndexing, VectorRetrieval  # noqa: E402
from kotaemon.indices.qa import CitationPipeline  # noqa: E402
from kotaemon.indices.qa.citation_qa import AnswerWithContextPipeline  # noqa: E402
from kotaemon.indices.rankings import BaseReranking as IndexReranking  # noqa: E402
from kotaemon.indices.rankings import LLMReranking  # noqa: E402
from kotaemon.llms import (  # noqa: E402
    AzureChatOpenAI,
    BaseLLM,
    BasePromptComponent,
    ChatOpenAI,
    EndpointChatLLM,
    LCAnthropicChat,
    LCChatOpenAI,
    OpenAI,
)
from kotaemon.rerankings import BaseReranking, CohereReranking  # noqa: E402
from kotaemon.storages import InMemoryDocumentStore, InMemoryVectorStore  # noqa: E402

from opentelemetry_instrumentation_kotaemon import KotaemonInstrumentor  # noqa: E402
from opentelemetry_instrumentation_kotaemon.kotaemon import classify, models, params  # noqa: E402

API_KEY = "sk-proj-kotaemonSECRET0123456789abcdef"
DOCUMENTS = ["Cats sleep most of the day.", "The answer to everything is 42.", "Paris is the capital of France."]
ERROR, OK = 2, 0  # StatusCode values


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAIServer]:
    with react_server() as server:
        yield server


@pytest.fixture
def traced(instrument: Callable[..., Captured]) -> Captured:
    return instrument()


def chat(server: OpenAIServer, model: str = "kt-chat", **params: Any) -> ChatOpenAI:
    return ChatOpenAI(model=model, base_url=server.base_url, api_key=API_KEY, **params)


def stores() -> tuple[InMemoryVectorStore, InMemoryDocumentStore]:
    vector_store, doc_store = InMemoryVectorStore(), InMemoryDocumentStore()
    VectorIndexing(vector_store=vector_store, doc_store=doc_store, embedding=FastEmbedEmbeddings())(DOCUMENTS)
    return vector_store, doc_store


def names(captured: Captured) -> list[str]:
    return [s.name for s in sorted(captured.spans(), key=lambda s: s.start_time or 0)]


def by_name(captured: Captured, name: str) -> list[Any]:
    return [s for s in captured.spans() if s.name == name]


def parent_of(span: Any) -> int | None:
    return span.parent.span_id if span.parent else None


def total(points: list[Any]) -> float:
    return sum(getattr(p, "count", None) or getattr(p, "value", 0) for p in points)


# --- LLMs: one span per logical call


def test_llm_call_through_call_run_invoke_is_one_span_with_the_openai_layer_merged(
    traced: Captured, server: OpenAIServer
) -> None:
    answer = chat(server, temperature=0.3, max_tokens=64)("What is the answer?", stop=["\n\n"])
    assert answer.text == REPLY
    span = traced.span()
    assert span.name == "chat kt-chat"
    attributes = span.attributes
    assert attributes["kotaemon.span.kind"] == "llm"
    assert attributes["kotaemon.component"] == "kotaemon.llms.chats.openai.ChatOpenAI"
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.request.temperature"] == pytest.approx(0.3)
    assert attributes["gen_ai.request.max_tokens"] == 64
    assert attributes["gen_ai.request.stop_sequences"] == ("\n\n",)  # call kwargs win over component params
    assert attributes["gen_ai.response.id"] == "chatcmpl-test123"  # learned by the OpenAI layer
    assert attributes["gen_ai.usage.input_tokens"] == count_tokens("What is the answer?")
    assert attributes["gen_ai.usage.output_tokens"] == count_tokens(REPLY)
    tokens = traced.points("gen_ai.client.token.usage")
    assert sorted((p.attributes["gen_ai.token.type"], p.count) for p in tokens) == [("input", 1), ("output", 1)]


def test_direct_invoke_and_ainvoke_are_one_span_each(traced: Captured, server: OpenAIServer) -> None:
    llm = chat(server)
    llm.invoke([HumanMessage(content="hi")])
    asyncio.run(llm.ainvoke("hi"))
    assert names(traced) == ["chat kt-chat", "chat kt-chat"]
    assert total(traced.points("gen_ai.client.operation.duration")) == 2


def test_endpoint_llm_invoke_run_and_ainvoke_invoke_are_one_span(traced: Captured, server: OpenAIServer) -> None:
    llm = EndpointChatLLM(endpoint_url=server.base_url + "/chat/completions")
    assert llm.invoke("hi").text == REPLY
    assert asyncio.run(llm.ainvoke("hi")).text == REPLY
    assert llm("hi").text == REPLY
    spans = traced.spans()
    assert [s.name for s in spans] == ["chat", "chat", "chat"]
    for span in spans:
        assert span.attributes["kotaemon.component"] == "kotaemon.llms.chats.endpoint_based.EndpointChatLLM"
        assert span.attributes["server.address"] == "127.0.0.1"
        # no lower layer reported usage: the LLMInterface's counts are used
        assert span.attributes["gen_ai.usage.input_tokens"] == count_tokens("hi")


def test_llm_stream_is_one_span_ended_with_the_stream(
    instrument: Callable[..., Captured], server: OpenAIServer
) -> None:
    traced = instrument(**ASK_STREAM_USAGE)
    chunks = [c.text for c in chat(server).stream("hi")]
    assert "".join(chunks) == REPLY
    span = traced.span()
    assert span.attributes["gen_ai.request.stream"] is True
    assert "kotaemon.stream.chunk_count" not in span.attributes  # set only on streams left early or failed
    assert "kotaemon.stream.abandoned" not in span.attributes
    assert span.attributes["gen_ai.usage.output_tokens"] == count_tokens(REPLY)


def test_llm_astream_is_one_span_ended_with_the_stream(
    instrument: Callable[..., Captured], server: OpenAIServer
) -> None:
    traced = instrument(**ASK_STREAM_USAGE)

    async def read() -> list[str]:
        return [c.text async for c in chat(server).astream("hi")]

    assert "".join(asyncio.run(read())) == REPLY
    span = traced.span()
    assert span.attributes["gen_ai.request.stream"] is True
    assert "kotaemon.stream.abandoned" not in span.attributes
    assert span.attributes["gen_ai.usage.output_tokens"] == count_tokens(REPLY)


def test_langchain_chat_wrapper_streams_through_run_as_one_span(traced: Captured, server: OpenAIServer) -> None:
    llm = LCChatOpenAI(openai_api_base=server.base_url, openai_api_key=API_KEY, model="kt-lc-stream", stream=True)
    chunks = [c.text for c in llm("hi")]  # LCChatMixin.run hands back its stream generator
    assert "".join(chunks) == REPLY
    span = traced.span()
    assert span.name == "chat kt-lc-stream"
    assert "kotaemon.stream.chunk_count" not in span.attributes and "kotaemon.stream.abandoned" not in span.attributes


def test_llm_stream_left_early_is_abandoned(traced: Captured, server: OpenAIServer) -> None:
    stream = chat(server).stream("hi")
    next(stream)
    stream.close()
    span = traced.span()
    assert span.attributes["kotaemon.stream.abandoned"] is True
    assert span.attributes["kotaemon.stream.chunk_count"] == 1  # the one chunk the reader took
    assert span.status.status_code.value == OK
    assert total(traced.points("kotaemon.streams.abandoned")) == 1


def test_llm_streams_dropped_before_their_first_chunk_are_abandoned(traced: Captured, server: OpenAIServer) -> None:
    llm = chat(server)
    sent = len(server.requests)
    streams = [llm.stream("hi"), llm.astream("hi")]  # asked for, then never read
    assert traced.spans() == []  # their spans are open
    del streams
    gc.collect()
    spans = traced.spans()
    assert len(spans) == 2 and all(s.attributes["kotaemon.stream.abandoned"] is True for s in spans)
    assert all(s.attributes["kotaemon.stream.chunk_count"] == 0 for s in spans)
    assert total(traced.points("kotaemon.streams.abandoned")) == 2
    assert len(server.requests) == sent  # the streams never sent their request


def test_base_llm_stream_raising_not_implemented_at_call_time_is_not_a_span(
    traced: Captured, server: OpenAIServer
) -> None:
    llm = EndpointChatLLM(endpoint_url=server.base_url + "/chat/completions")
    with pytest.raises(NotImplementedError):
        llm.stream("hi")
    assert traced.spans() == []
    # the caller's fallback (AnswerWithContextPipeline) is then traced as a plain call
    answer = yield_all(AnswerWithContextPipeline(llm=llm, enable_citation=False).stream(question="q", evidence="e"))
    assert answer.content == REPLY
    assert names(traced) == ["invoke_workflow AnswerWithContextPipeline", "chat"]
    assert traced.points("kotaemon.errors") == []


def yield_all(generator: Any) -> Any:
    """Drive a generator with `yield from`, as ktem does, and return its return value."""

    def outer() -> Any:
        return (yield from generator)

    driven = outer()
    try:
        while True:
            next(driven)
    except StopIteration as stop:
        return stop.value


def test_langchain_chat_wrapper_to_langchain_openai_to_openai_is_one_chat_span(
    traced: Captured, server: OpenAIServer
) -> None:
    llm = LCChatOpenAI(openai_api_base=server.base_url, openai_api_key=API_KEY, model="kt-lc", temperature=0.1)
    assert llm("hi").text == REPLY
    span = traced.span()
    assert span.name == "chat kt-lc"
    assert span.attributes["kotaemon.component"] == "kotaemon.llms.chats.langchain_based.LCChatOpenAI"
    assert span.attributes["gen_ai.request.temperature"] == pytest.approx(0.1)
    assert span.attributes["gen_ai.usage.input_tokens"] == count_tokens("hi")
    inputs = [p for p in traced.points("gen_ai.client.token.usage") if p.attributes["gen_ai.token.type"] == "input"]
    assert [(p.count, p.sum) for p in inputs] == [(1, count_tokens("hi"))]


def test_langchain_completion_implements_only_run(traced: Captured, server: OpenAIServer) -> None:
    llm = OpenAI(openai_api_base=server.base_url, openai_api_key=API_KEY, model_name="kt-complete")
    assert llm("Say it").text == REPLY
    span = traced.span()
    assert span.name == "text_completion kt-complete"
    assert span.attributes["gen_ai.operation.name"] == "text_completion"
    assert span.attributes["gen_ai.request.max_tokens"] == 256


def test_shadowed_langchain_params_are_read_from_kwargs_and_unset_is_missing(traced: Captured) -> None:
    llm = LCAnthropicChat(api_key="sk-ant-secret", model_name="claude-x")
    assert type(llm.model_name).__name__ == "unset_"  # the trap: the declared Param shadows `__getattr__`
    call = models.model_call(llm, classify.family_of(LCAnthropicChat), "invoke", ("hi",), {}, content=True)
    assert call.request_model == "claude-x"
    assert call.provider == "anthropic"
    assert "sk-ant-secret" not in repr(call)
    azure = AzureChatOpenAI(azure_deployment="gpt-deploy", azure_endpoint="https://x.openai.azure.com", api_key="k")
    call = models.model_call(azure, classify.family_of(AzureChatOpenAI), "invoke", ("hi",), {}, content=False)
    assert (call.request_model, call.server_address, call.provider) == (
        "gpt-deploy",
        "x.openai.azure.com",
        "azure.ai.openai",
    )
    assert params.setting(ChatOpenAI(), "model") is None  # a Param never set: missing, not `unset`
    assert traced.spans() == []


def test_never_reads_params_or_auto_params(
    traced: Captured, server: OpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import theflow.base

    def forbidden(self: Any) -> Any:
        raise AssertionError("params read")

    monkeypatch.setattr(theflow.base.Function, "params", property(forbidden))
    # ChatOpenAI.max_retries_ and FastEmbedEmbeddings.client_ are auto Params that fail when read
    chat(server)("hi")
    FastEmbedEmbeddings()("hello")
    asyncio.run(FastEmbedEmbeddings().ainvoke("hello"))
    assert names(traced) == ["chat kt-chat", "embeddings BAAI/bge-small-en-v1.5", "embeddings BAAI/bge-small-en-v1.5"]


# --- embeddings


def test_embeddings_families(traced: Captured, server: OpenAIServer) -> None:
    OpenAIEmbeddings(model="kt-embed", base_url=server.base_url, api_key=API_KEY)(["a b", "c"])
    LCOpenAIEmbeddings(model="kt-lc-embed", openai_api_base=server.base_url, openai_api_key=API_KEY)("hello")
    first, second = sorted(traced.spans(), key=lambda s: s.start_time or 0)
    assert first.name == "embeddings kt-embed" and second.name == "embeddings kt-lc-embed"
    for span in (first, second):
        assert span.attributes["kotaemon.span.kind"] == "embedding"
        assert span.attributes["gen_ai.embeddings.dimension.count"] == 8
    assert second.attributes["kotaemon.component"] == "kotaemon.embeddings.langchain_based.LCOpenAIEmbeddings"
    assert first.attributes["gen_ai.usage.input_tokens"] == 3  # from the OpenAI layer, merged


# --- retrieval, re-ranking, threads


def _threads_carry_context() -> bool:
    import threading
    from concurrent.futures import ThreadPoolExecutor

    methods = (threading.Thread.start, threading.Thread.run, threading.Timer.run, ThreadPoolExecutor.submit)
    return any(getattr(method, "_self_kotaemon", False) for method in methods)


def test_retrieval_with_both_reranker_families_and_threads(traced: Captured, server: OpenAIServer) -> None:
    vector_store, doc_store = stores()
    traced.spans_exporter.clear()
    retriever = VectorRetrieval(
        vector_store=vector_store,
        doc_store=doc_store,
        embedding=FastEmbedEmbeddings(),
        rerankers=[CohereReranking(), LLMReranking(llm=chat(server, "kt-judge"), top_k=2)],
        top_k=2,
    )
    documents = retriever("what is the answer to everything")
    assert len(documents) == 2
    spans = traced.spans()
    (retrieval,) = by_name(traced, "retrieval VectorRetrieval")
    (embedding,) = by_name(traced, "embeddings BAAI/bge-small-en-v1.5")
    (cohere,) = by_name(traced, "rerank CohereReranking")
    (judge,) = by_name(traced, "rerank LLMReranking")
    judged = by_name(traced, "chat kt-judge")
    assert len(judged) == 3
    assert {s.context.trace_id for s in spans} == {retrieval.context.trace_id}  # threads kept the trace
    assert parent_of(embedding) == retrieval.context.span_id  # hybrid search thread
    assert parent_of(cohere) == parent_of(judge) == retrieval.context.span_id
    assert {parent_of(s) for s in judged} == {judge.context.span_id}  # thread pool
    assert cohere.attributes["kotaemon.rerank.input_count"] == 3
    assert len(cohere.attributes["kotaemon.documents.scores"]) == 3
    assert cohere.attributes["gen_ai.request.model"] == "rerank-v4.0-fast"
    assert judge.attributes["gen_ai.request.top_k"] == 2
    assert judge.attributes["kotaemon.documents.count"] == 2
    assert retrieval.attributes["kotaemon.documents.ids"] == tuple(d.doc_id for d in documents)
    assert retrieval.attributes["gen_ai.retrieval.top_k"] == 2
    assert "gen_ai.request.top_k" not in retrieval.attributes  # a sampling setting of models, not of retrievers
    assert "gen_ai.retrieval.query.text" not in retrieval.attributes
    assert "gen_ai.retrieval.documents" not in retrieval.attributes  # opt-in: content
    kept = traced.points("kotaemon.rerank.documents")
    assert sorted((p.attributes["kotaemon.component"], p.sum) for p in kept) == [
        ("kotaemon.indices.rankings.llm.LLMReranking", 2),
        ("kotaemon.rerankings.cohere.CohereReranking", 3),
    ]
    assert total(traced.points("kotaemon.retrieval.duration")) == 1
    assert total(traced.points("kotaemon.rerank.duration")) == 2


def test_retrieved_and_reranked_documents_are_id_and_score_objects(instrument: Callable[..., Captured]) -> None:
    captured = instrument(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="true")
    vector_store, doc_store = stores()
    captured.spans_exporter.clear()
    retriever = VectorRetrieval(
        vector_store=vector_store, doc_store=doc_store, embedding=FastEmbedEmbeddings(), rerankers=[CohereReranking()]
    )
    documents = retriever("what is the answer to everything")
    (retrieval,) = by_name(captured, "retrieval VectorRetrieval")
    found = json.loads(retrieval.attributes["gen_ai.retrieval.documents"])
    assert found == [{"id": d.doc_id, "score": d.score, "content": d.text} for d in documents]
    assert retrieval.attributes["kotaemon.documents.scores"] == tuple(d.score for d in documents)
    (cohere,) = by_name(captured, "rerank CohereReranking")
    reranked = json.loads(cohere.attributes["gen_ai.retrieval.documents"])
    assert [d["score"] for d in reranked] == [d.metadata["reranking_score"] for d in documents]  # the re-ranker's


def test_ktem_retrievers_name_the_file_index_they_read(traced: Captured) -> None:
    from ktem.index.file.index import FileIndex

    index = FileIndex(app=None, id=3, name="File Collection", config={"embedding": FastEmbedEmbeddings()})
    (retriever,) = index.get_retriever_pipelines({}, user_id=1)
    VectorIndexing(vector_store=retriever.VS, doc_store=retriever.DS, embedding=FastEmbedEmbeddings())(DOCUMENTS)
    traced.spans_exporter.clear()
    retriever(text="what is the answer", doc_ids=["f1"])
    vector_store, doc_store = stores()
    VectorRetrieval(vector_store=vector_store, doc_store=doc_store, embedding=FastEmbedEmbeddings())("answer")
    (ktem,) = by_name(traced, "retrieval DocumentRetrievalPipeline")
    inner, plain = sorted(by_name(traced, "retrieval VectorRetrieval"), key=lambda s: s.start_time or 0)
    assert ktem.attributes["gen_ai.data_source.id"] == "3"
    assert parent_of(inner) == ktem.context.span_id
    assert inner.attributes["gen_ai.data_source.id"] == "3"  # it searches the same index's stores
    assert "gen_ai.data_source.id" not in plain.attributes  # a vector store of the app's own: no index to name


def test_threads_are_left_alone_when_the_threading_instrumentation_is_disabled(
    instrument: Callable[..., Captured], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "threading")
    captured = instrument()
    vector_store, doc_store = stores()
    captured.spans_exporter.clear()
    VectorRetrieval(vector_store=vector_store, doc_store=doc_store, embedding=FastEmbedEmbeddings())("answer")
    (retrieval,) = by_name(captured, "retrieval VectorRetrieval")
    (embedding,) = by_name(captured, "embeddings BAAI/bge-small-en-v1.5")
    assert embedding.context.trace_id != retrieval.context.trace_id
    assert embedding.parent is None  # the hybrid search thread started a trace of its own
    assert not _threads_carry_context()


def test_subclasses_defined_before_and_after_instrumentation_are_covered(
    instrument: Callable[..., Captured],
) -> None:
    class EarlyRetriever(BaseRetrieval):
        def run(self, text: str) -> list[RetrievedDocument]:
            return []

    captured = instrument()

    class LateRetriever(BaseRetrieval):
        def run(self, text: str, top_k: int = 3) -> list[RetrievedDocument]:
            return [RetrievedDocument(content="x", score=0.5)]

    class LateReranker(BaseReranking):
        def run(self, documents: list[Document], query: str) -> list[Document]:
            return documents[:1]

    class LateIndexReranker(IndexReranking):
        def run(self, documents: list[Document], query: str) -> list[Document]:
            return documents

    EarlyRetriever()("q")
    LateRetriever()(text="q", top_k=1)
    LateReranker().run(documents=[Document("a"), Document("b")], query="q")
    LateIndexReranker().run([Document("a")], "q")
    assert names(captured) == [
        "retrieval EarlyRetriever",
        "retrieval LateRetriever",
        "rerank LateReranker",
        "rerank LateIndexReranker",
    ]
    late = by_name(captured, "retrieval LateRetriever")[0]
    assert late.attributes["gen_ai.retrieval.top_k"] == 1  # bound from the call's keywords
    assert late.attributes["kotaemon.documents.scores"] == (0.5,)
    (empty,) = captured.points("kotaemon.retrieval.empty")
    assert empty.value == 1 and empty.attributes["kotaemon.component"].endswith("EarlyRetriever")


def test_theflow_double_class_creation_wraps_each_method_once(traced: Captured) -> None:
    class Twice(BaseRetrieval):
        def run(self, text: str) -> list[RetrievedDocument]:
            return []

    wrapper = Twice.__dict__["run"]
    assert isinstance(wrapper, wrapt.FunctionWrapper)
    assert type(wrapper.__wrapped__) is types.FunctionType  # not a wrapper of a wrapper
    Twice()("q")
    assert names(traced) == ["retrieval Twice"]


def test_uninstrument_removes_every_wrapper_and_the_subclass_hook(traced: Captured, server: OpenAIServer) -> None:
    chat(server)("hi")
    assert isinstance(BaseLLM.__dict__["run"], wrapt.FunctionWrapper)
    assert "__init_subclass__" in BaseComponent.__dict__
    KotaemonInstrumentor().uninstrument()
    traced.spans_exporter.clear()

    class After(BaseRetrieval):
        def run(self, text: str) -> list[RetrievedDocument]:
            return []

    assert "__init_subclass__" not in BaseComponent.__dict__
    assert not _threads_carry_context()
    for cls in (BaseLLM, ChatOpenAI, After, VectorRetrieval, ReactAgent):
        for name in ("run", "invoke", "stream"):
            assert not isinstance(cls.__dict__.get(name), wrapt.FunctionWrapper), (cls, name)
    from kotaemon.llms.chats.langchain_based import LCChatMixin

    assert type(LCChatMixin.__dict__["invoke"]) is types.FunctionType
    chat(server)("hi")
    After()("q")
    assert traced.spans() == []


# --- generators


class Streamer(BaseComponent):
    """A pipeline whose `stream` is a generator with a return value that also takes `send` and `throw`."""

    def run(self, n: int) -> int:
        return n

    def stream(self, n: int):  # type: ignore[no-untyped-def]
        received = []
        for i in range(n):
            try:
                value = yield i
            except KeyError:
                value = "thrown"
            received.append(value)
        return received


def test_generators_keep_their_return_value_send_throw_and_close(traced: Captured) -> None:
    generator = Streamer().stream(3)
    assert next(generator) == 0
    assert generator.send("a") == 1
    assert generator.throw(KeyError("k")) == 2
    with pytest.raises(StopIteration) as stop:
        generator.send("c")
    assert stop.value.value == ["a", "thrown", "c"]
    assert yield_all(Streamer().stream(2)) == [None, None]
    closed = Streamer().stream(5)
    next(closed)
    closed.close()
    spans = traced.spans()
    assert [s.name for s in spans] == ["invoke_workflow Streamer"] * 3
    assert all(s.status.status_code.value == OK for s in spans)


def test_generator_error_is_an_error_span(traced: Captured) -> None:
    generator = Streamer().stream(2)
    next(generator)
    with pytest.raises(ValueError):
        generator.throw(ValueError("boom"))
    span = traced.span()
    assert span.status.status_code.value == ERROR
    assert span.attributes["error.type"] == "ValueError"
    (error,) = traced.points("kotaemon.errors")
    assert error.attributes == {"kotaemon.span.kind": "pipeline", "error.type": "ValueError"} and error.value == 1


# --- noise control and roll-up


class Ask(BaseComponent):
    """A user pipeline: a prompt component, then an LLM."""

    prompt: BasePromptComponent
    llm: ChatOpenAI

    def run(self, question: str) -> Document:
        return self.llm(self.prompt(question=question).text)


def ask(server: OpenAIServer) -> Ask:
    return Ask(prompt=BasePromptComponent(template="Q: {question}"), llm=chat(server))


def test_by_default_plain_components_are_traced_only_at_the_top(traced: Captured, server: OpenAIServer) -> None:
    ask(server)("What is the answer?")
    root, llm = sorted(traced.spans(), key=lambda s: s.start_time or 0)
    assert [root.name, llm.name] == ["invoke_workflow Ask", "chat kt-chat"]
    assert parent_of(llm) == root.context.span_id
    assert llm.attributes["kotaemon.step"] == "llm"
    # the root carries the tokens of the model calls below it
    assert root.attributes["kotaemon.usage.input_tokens"] == llm.attributes["gen_ai.usage.input_tokens"]
    assert root.attributes["kotaemon.usage.output_tokens"] == count_tokens(REPLY)
    BasePromptComponent(template="{x}")(x="a top-level component is a pipeline")
    assert names(traced)[-1] == "invoke_workflow BasePromptComponent"


def test_a_variable_traces_every_step(instrument: Callable[..., Captured], server: OpenAIServer) -> None:
    captured = instrument(OTEL_KOTAEMON_TRACE_ALL_STEPS="true")
    ask(server)("What is the answer?")
    assert names(captured) == ["invoke_workflow Ask", "invoke_workflow BasePromptComponent", "chat kt-chat"]
    (prompt,) = by_name(captured, "invoke_workflow BasePromptComponent")
    assert prompt.attributes["kotaemon.step"] == "prompt"


def test_citation_pipeline_run_invoke_is_one_span(traced: Captured, server: OpenAIServer) -> None:
    CitationPipeline(llm=chat(server))(context="ctx", question="q")
    pipeline, llm = sorted(traced.spans(), key=lambda s: s.start_time or 0)
    assert pipeline.name == "invoke_workflow CitationPipeline"
    assert pipeline.attributes["kotaemon.component"] == "kotaemon.indices.qa.citation.CitationPipeline"
    assert llm.name == "chat kt-chat" and parent_of(llm) == pipeline.context.span_id
    assert llm.attributes["gen_ai.response.finish_reasons"] == ("tool_calls",)


# --- agents and tools


class Add(BaseTool):
    name: str = "add"
    description: str = "Adds one"

    def _run_tool(self, number: str) -> str:
        return str(int(number) + 1)


class Search(BaseTool):
    name: str = "search"
    description: str = "Looks things up"

    def _run_tool(self, query: str) -> str:
        return "42"


def test_tool_span_and_calls_metric(instrument: Callable[..., Captured]) -> None:
    captured = instrument(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="true")
    assert Add()("41") == "42"
    span = captured.span()
    assert span.name == "execute_tool add"
    assert span.attributes["gen_ai.operation.name"] == "execute_tool"
    assert span.attributes["gen_ai.tool.name"] == "add"
    assert span.attributes["gen_ai.tool.description"] == "Adds one"
    assert span.attributes["gen_ai.tool.call.arguments"] == "41"
    assert span.attributes["gen_ai.tool.call.result"] == "42"
    assert span.attributes["gen_ai.tool.type"] == "function"
    (calls,) = captured.points("gen_ai.execute_tool.duration")
    assert calls.attributes["gen_ai.tool.name"] == "add" and calls.count == 1


def test_react_agent_run_and_stream(traced: Captured, server: OpenAIServer) -> None:
    agent = ReactAgent(llm=chat(server, REACT_MODEL), plugins=[Search()])
    assert agent("What is the meaning of life?").text == "42"
    result = yield_all(ReactAgent(llm=chat(server, REACT_MODEL), plugins=[Search()]).stream("And again?"))
    assert isinstance(result, AgentOutput) and result.status == "finished"
    agents = sorted(by_name(traced, "invoke_agent ReactAgent"), key=lambda s: s.start_time or 0)
    assert len(agents) == 2
    # two instances of one agent definition: the same attributes, and no per-instance id (semantic-conventions-genai
    # #242 keeps gen_ai.agent.id for stable ids of a definition, which Kotaemon agents do not have)
    identities = [{k: v for k, v in a.attributes.items() if not k.startswith("kotaemon.usage.")} for a in agents]
    assert identities[0] == identities[1]  # (the two questions' token counts differ)
    assert not any(key.startswith("gen_ai.agent.id") for key in agents[0].attributes)
    for agent_span in agents:
        assert agent_span.attributes["kotaemon.agent.status"] == "finished"
        assert agent_span.attributes["kotaemon.agent.tools"] == ("search",)
        assert agent_span.attributes["kotaemon.agent.iterations"] == 1
        assert agent_span.attributes["kotaemon.agent.max_iterations"] == 5
        steps = sorted(
            (s for s in traced.spans() if parent_of(s) == agent_span.context.span_id), key=lambda s: s.start_time or 0
        )
        assert [s.name for s in steps] == ["chat react-agent", "execute_tool search", "chat react-agent"]


def test_agent_failure_returned_as_a_value_is_an_error_span(traced: Captured, server: OpenAIServer) -> None:
    output = RewooAgent(llm=chat(server, "error-500"))("plan something")
    assert output.status == "failed"
    (agent,) = by_name(traced, "invoke_agent RewooAgent")
    assert agent.status.status_code.value == ERROR
    assert agent.attributes["error.type"] == "failed"
    assert agent.attributes["kotaemon.agent.status"] == "failed"
    (llm,) = by_name(traced, "chat error-500")
    assert llm.status.status_code.value == ERROR and parent_of(llm) == agent.context.span_id
    errors = {p.attributes["kotaemon.span.kind"]: p.value for p in traced.points("kotaemon.errors")}
    assert errors == {"agent": 1, "llm": 1}


def test_rewoo_tools_run_in_a_thread_pool_inside_the_agent_trace(traced: Captured, server: OpenAIServer) -> None:
    class Planner(BaseLLM):
        """A user LLM that plans two tool calls (ReWOO's format), then answers."""

        def invoke(self, prompt: str, **kwargs: Any) -> AgentOutput:
            text = "#E1 = add[1]\n#E2 = add[2]" if prompt.startswith("Plan") else "done"
            return AgentOutput(text=text, agent_type=None, status="finished")

    output = RewooAgent(llm=Planner(), plugins=[Add()])("add things")
    assert output.text == "done"
    (agent,) = by_name(traced, "invoke_agent RewooAgent")
    tools = by_name(traced, "execute_tool add")
    assert len(tools) == 2
    assert {parent_of(t) for t in tools} == {agent.context.span_id}
    assert agent.status.status_code.value == OK


def test_agents_without_a_name_and_component_tools(traced: Captured) -> None:
    class Quiet(BaseAgent):
        def run(self, instruction: str) -> AgentOutput:
            return AgentOutput(text=str(self.plugins[0](instruction)), agent_type=None, status="finished")

    inner = ComponentTool(name="echo", description="Echoes", component=Streamer())
    assert Quiet(plugins=[inner])("7").text == "7"
    assert names(traced) == ["invoke_agent Quiet", "execute_tool echo"]
    (agent,) = by_name(traced, "invoke_agent Quiet")
    assert "gen_ai.agent.name" not in agent.attributes  # the Param was never set: `unset` is missing


# --- content and secrets


def test_content_is_captured_only_when_asked_and_keys_never(
    instrument: Callable[..., Captured], server: OpenAIServer
) -> None:
    captured = instrument(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="true")
    vector_store, doc_store = stores()
    retriever = VectorRetrieval(vector_store=vector_store, doc_store=doc_store, embedding=FastEmbedEmbeddings())
    retriever("what is the answer, ask jane.doe@example.com")
    chat(server)("hi there")
    (retrieval,) = by_name(captured, "retrieval VectorRetrieval")
    assert retrieval.attributes["gen_ai.retrieval.query.text"] == "what is the answer, ask [REDACTED:email]"
    assert "The answer to everything is 42." in retrieval.attributes["gen_ai.retrieval.documents"]
    (llm,) = by_name(captured, "chat kt-chat")
    assert "hi there" in llm.attributes["gen_ai.input.messages"]
    assert REPLY in llm.attributes["gen_ai.output.messages"]
    exported = repr([dict(s.attributes) for s in captured.spans()])
    assert API_KEY not in exported and "kotaemonSECRET" not in exported


def test_a_ktem_retriever_with_no_file_selected_is_marked_skipped_and_left_out_of_the_metrics(
    traced: Captured,
) -> None:
    from ktem.index.file.index import FileIndex

    index = FileIndex(app=None, id=2, name="GraphRAG Collection", config={"embedding": FastEmbedEmbeddings()})
    (retriever,) = index.get_retriever_pipelines({}, user_id=1)
    VectorIndexing(vector_store=retriever.VS, doc_store=retriever.DS, embedding=FastEmbedEmbeddings())(DOCUMENTS)
    traced.spans_exporter.clear()
    assert retriever(text="what is the answer") == []  # ktem: "Skip retrieval because of no selected files"
    assert retriever(text="what is the answer", doc_ids=["not-indexed"]) == []  # searched, found nothing
    skipped, empty = sorted(by_name(traced, "retrieval DocumentRetrievalPipeline"), key=lambda s: s.start_time or 0)
    assert skipped.attributes["kotaemon.retrieval.skipped"] is True
    assert "kotaemon.retrieval.skipped" not in empty.attributes
    ktem = "ktem.index.file.pipelines.DocumentRetrievalPipeline"
    durations = traced.points("kotaemon.retrieval.duration")
    assert [p.count for p in durations if p.attributes["kotaemon.component"] == ktem] == [1]  # the search only
    assert [p.value for p in traced.points("kotaemon.retrieval.empty")] == [1]
