"""End to end: an unchanged Kotaemon RAG app under `opentelemetry-instrument`, telemetry read back over OTLP.

The app (examples/kotaemon_rag_app.py) indexes three documents, answers a question through a pipeline that
retrieves with two re-rankers (one asks an LLM per document in a thread pool), streams an answer with citations
computed in a thread, and runs a ReAct agent that calls a search tool.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.kotaemon_standin import environment
from tests.kotaemon_standin.react_server import react_server
from tests.support.e2e import FAKE_API_KEY, run_instrumented
from tests.support.openai_server import ASK_STREAM_USAGE
from tests.support.otlp_receiver import OtlpReceiver, Span

INTERNAL, CLIENT = 1, 3


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    with react_server() as server, OtlpReceiver() as receiver:
        env = {**environment(), **ASK_STREAM_USAGE}  # streams asked for their usage as on api.openai.com
        run_instrumented("examples/kotaemon_rag_app.py", server.base_url, receiver=receiver, env=env)
        yield receiver


def root(receiver: OtlpReceiver, name: str) -> Span:
    (span,) = [s for s in receiver.spans if s.name == name and s.parent_id == ""]
    return span


def trace(receiver: OtlpReceiver, top: Span) -> list[Span]:
    """The spans of `top`'s trace in start order."""
    return sorted((s for s in receiver.spans if s.trace_id == top.trace_id), key=lambda s: s.start)


def children(spans: list[Span], parent: Span) -> list[Span]:
    return [s for s in spans if s.parent_id == parent.span_id]


def test_indexing_is_one_trace_with_its_embedding_call(receiver: OtlpReceiver) -> None:
    top = root(receiver, "index VectorIndexing")
    spans = trace(receiver, top)
    assert [s.name for s in spans] == ["index VectorIndexing", "embeddings kt-embed"]
    assert top.attributes["kotaemon.span.kind"] == "indexing"
    assert top.attributes["kotaemon.documents.count"] == 3
    embedding = spans[1]
    assert embedding.parent_id == top.span_id
    assert embedding.kind == CLIENT
    assert embedding.attributes["kotaemon.span.kind"] == "embedding"
    assert embedding.attributes["kotaemon.component"] == "kotaemon.embeddings.openai.OpenAIEmbeddings"
    assert embedding.attributes["kotaemon.step"] == "embedding"  # theflow's node name inside VectorIndexing
    assert embedding.attributes["gen_ai.embeddings.dimension.count"] == 8  # learned from the OpenAI layer


def test_question_is_one_trace_in_the_order_it_ran(receiver: OtlpReceiver) -> None:
    top = root(receiver, "invoke_workflow RAGPipeline")
    spans = trace(receiver, top)
    assert top.attributes["kotaemon.span.kind"] == "pipeline"
    assert top.attributes["gen_ai.operation.name"] == "invoke_workflow"
    assert top.attributes["kotaemon.component"] == "__main__.RAGPipeline"
    assert [s.name for s in children(spans, top)] == ["retrieval VectorRetrieval", "chat kt-answer"]
    retrieval, answer = children(spans, top)
    assert retrieval.kind == CLIENT
    assert retrieval.attributes["kotaemon.step"] == "retriever"
    assert retrieval.attributes["gen_ai.retrieval.top_k"] == 2
    assert retrieval.attributes["kotaemon.retrieval.mode"] == "hybrid"
    assert retrieval.attributes["kotaemon.documents.count"] == 2
    # the embedding runs in a thread of the hybrid search, the LLM re-ranker's calls in a thread pool
    assert [s.name for s in children(spans, retrieval)] == [
        "embeddings kt-embed",
        "rerank CohereReranking",
        "rerank LLMReranking",
    ]
    cohere, llm_reranker = children(spans, retrieval)[1:]
    assert cohere.attributes["kotaemon.component"] == "kotaemon.rerankings.cohere.CohereReranking"
    assert llm_reranker.attributes["kotaemon.component"] == "kotaemon.indices.rankings.llm.LLMReranking"
    assert cohere.attributes["kotaemon.rerank.input_count"] == 3
    assert cohere.attributes["kotaemon.rerank.score.name"] == "reranking_score"
    assert llm_reranker.attributes["kotaemon.documents.count"] == 2
    assert "kotaemon.rerank.score.name" not in llm_reranker.attributes  # it filters, it gives no score
    judged = children(spans, llm_reranker)
    assert [s.name for s in judged] == ["chat kt-rerank"] * 3
    assert answer.kind == CLIENT
    assert answer.attributes["kotaemon.step"] == "llm"
    assert answer.attributes["gen_ai.request.temperature"] == pytest.approx(0.2)
    assert answer.attributes["gen_ai.response.id"] == "chatcmpl-test123"  # merged from the OpenAI layer
    assert answer.attributes["server.address"] == "127.0.0.1"
    # no separate OpenAI client span: every model span is a Kotaemon component
    assert all("kotaemon.component" in s.attributes for s in spans)
    # the root carries the tokens of every model call below it, embeddings included, and the input tokens by operation
    models = [s for s in spans if "gen_ai.usage.output_tokens" in s.attributes]
    assert len(models) == 4
    embeddings = [s for s in spans if s.attributes.get("kotaemon.span.kind") == "embedding"]
    assert len(embeddings) == 1 and embeddings[0].attributes["gen_ai.usage.input_tokens"] > 0
    chat_tokens = sum(s.attributes["gen_ai.usage.input_tokens"] for s in models)
    embedding_tokens = embeddings[0].attributes["gen_ai.usage.input_tokens"]
    assert top.attributes["kotaemon.usage.input_tokens"] == chat_tokens + embedding_tokens
    assert top.attributes["kotaemon.usage.chat.input_tokens"] == chat_tokens
    assert top.attributes["kotaemon.usage.embeddings.input_tokens"] == embedding_tokens
    assert top.attributes["kotaemon.usage.output_tokens"] == sum(
        s.attributes.get("gen_ai.usage.output_tokens", 0) for s in models
    )


def test_streamed_answer_with_citations_in_a_thread(receiver: OtlpReceiver) -> None:
    top = root(receiver, "invoke_workflow StreamingRAG")
    spans = trace(receiver, top)
    assert [s.name for s in children(spans, top)] == [
        "retrieval VectorRetrieval",
        "invoke_workflow AnswerWithContextPipeline",
    ]
    answering = children(spans, top)[1]
    names = sorted(s.name for s in children(spans, answering))
    assert names == ["chat kt-stream", "invoke_workflow CitationPipeline"]
    streamed = next(s for s in children(spans, answering) if s.name == "chat kt-stream")
    assert streamed.attributes["gen_ai.request.stream"] is True
    assert "kotaemon.stream.abandoned" not in streamed.attributes
    assert streamed.attributes["gen_ai.usage.output_tokens"] > 0
    citation = next(s for s in children(spans, answering) if s.name == "invoke_workflow CitationPipeline")
    (cited,) = children(spans, citation)
    assert cited.name == "chat kt-stream" and "gen_ai.request.stream" not in cited.attributes
    assert top.end >= answering.end >= streamed.end


def test_react_agent_with_a_tool(receiver: OtlpReceiver) -> None:
    top = root(receiver, "invoke_agent ReactAgent")
    spans = trace(receiver, top)
    assert top.kind == INTERNAL
    assert top.attributes["gen_ai.agent.name"] == "ReactAgent"
    assert top.attributes["kotaemon.agent.type"] == "react"
    assert top.attributes["kotaemon.agent.tools"] == ["search"]
    assert top.attributes["kotaemon.agent.status"] == "finished"
    assert top.attributes["kotaemon.agent.iterations"] == 1
    assert [s.name for s in children(spans, top)] == ["chat react-agent", "execute_tool search", "chat react-agent"]
    tool = children(spans, top)[1]
    assert tool.attributes["gen_ai.tool.name"] == "search"
    assert tool.attributes["gen_ai.tool.description"] == "Searches the documents"
    assert "gen_ai.tool.call.arguments" not in tool.attributes  # content is off by default
    assert [s.name for s in children(spans, tool)] == ["retrieval VectorRetrieval"]


def _points(receiver: OtlpReceiver, metric: str, **match: object) -> list:
    return [
        p for p in receiver.points if p.metric == metric and all(p.attributes.get(k) == v for k, v in match.items())
    ]


def test_rag_metrics(receiver: OtlpReceiver) -> None:
    retrievals = _points(receiver, "kotaemon.retrieval.duration")
    assert sum(p.count for p in retrievals) == 3  # question, stream, agent's tool
    assert all(p.unit == "s" for p in retrievals)
    assert sum(p.count for p in _points(receiver, "kotaemon.retrieval.documents")) == 3
    kept = _points(
        receiver, "kotaemon.rerank.documents", **{"kotaemon.component": "kotaemon.indices.rankings.llm.LLMReranking"}
    )
    assert sum(p.count for p in kept) == 3 and sum(p.sum for p in kept) == 6
    assert sum(p.count for p in _points(receiver, "kotaemon.rerank.duration")) == 6
    # Cohere's score of each of the 3 documents it returned, three times; the best one of each call ranked top
    cohere = {"kotaemon.component": "kotaemon.rerankings.cohere.CohereReranking"}
    relevance = _points(receiver, "kotaemon.rerank.relevance", **cohere)
    assert {p.attributes["kotaemon.rerank.score.name"] for p in relevance} == {"reranking_score"}
    counts = {p.attributes["kotaemon.rerank.document.rank"]: p.count for p in relevance}
    assert counts == {"top": 3, "other": 6}
    assert all(p.bounds[0] == 0 and p.bounds[-1] == 1 for p in relevance)  # buckets for scores from 0 to 1
    (tool_calls,) = _points(receiver, "gen_ai.execute_tool.duration")
    assert tool_calls.attributes["gen_ai.tool.name"] == "search" and tool_calls.count == 1
    (indexed,) = _points(receiver, "kotaemon.indexing.documents")
    assert indexed.value == 3
    assert sum(p.count for p in _points(receiver, "kotaemon.indexing.duration")) == 1
    assert _points(receiver, "kotaemon.errors") == []
    assert _points(receiver, "kotaemon.retrieval.empty") == []


def test_token_usage_is_counted_once_per_request(receiver: OtlpReceiver) -> None:
    chats = [s for s in receiver.spans if s.attributes.get("gen_ai.operation.name") == "chat"]
    inputs = _points(
        receiver, "gen_ai.client.token.usage", **{"gen_ai.operation.name": "chat", "gen_ai.token.type": "input"}
    )
    assert sum(p.count for p in inputs) == len(chats) == 14
    assert sum(p.sum for p in inputs) == sum(s.attributes["gen_ai.usage.input_tokens"] for s in chats)
    durations = _points(receiver, "gen_ai.client.operation.duration", **{"gen_ai.operation.name": "chat"})
    assert sum(p.count for p in durations) == len(chats)


def test_api_key_never_leaves(receiver: OtlpReceiver) -> None:
    exported = repr(receiver.spans) + repr(receiver.points) + repr(receiver.logs)
    assert FAKE_API_KEY not in exported and "e2eSECRET" not in exported
