"""Answer quality in process, on the Kotaemon stand-in: re-rankers' relevance scores on their spans and in a metric,
and ktem's likes and reports as evaluation events parented to the answer they judge."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import gradio as gr
import pytest

from tests.conftest import Captured
from tests.kotaemon_standin import use
from tests.kotaemon_standin.react_server import RATING_MODEL, react_server
from tests.support.openai_server import OpenAIServer

use()

from kotaemon.embeddings import FastEmbedEmbeddings  # noqa: E402
from kotaemon.indices import VectorIndexing, VectorRetrieval  # noqa: E402
from kotaemon.indices.qa.citation_qa import AnswerWithContextPipeline  # noqa: E402
from kotaemon.indices.rankings import LLMScoring, LLMTrulensScoring  # noqa: E402
from kotaemon.llms import ChatOpenAI  # noqa: E402
from kotaemon.rerankings import CohereReranking  # noqa: E402
from kotaemon.storages import InMemoryDocumentStore, InMemoryVectorStore  # noqa: E402
from ktem.pages.chat import ChatPage  # noqa: E402
from ktem.pages.chat.report import ReportIssue  # noqa: E402
from ktem.reasoning.simple import FullQAPipeline  # noqa: E402

DOCUMENTS = ["Cats sleep most of the day.", "The answer to everything is 42.", "Paris is the capital of France."]
QUESTION = "what is the answer to everything"
EVENT = "gen_ai.evaluation.result"


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAIServer]:
    with react_server() as server:
        yield server


def chat(server: OpenAIServer, model: str) -> ChatOpenAI:
    return ChatOpenAI(model=model, base_url=server.base_url, api_key="sk-test")


def retriever(**settings: Any) -> VectorRetrieval:
    vector_store, doc_store = InMemoryVectorStore(), InMemoryDocumentStore()
    VectorIndexing(vector_store=vector_store, doc_store=doc_store, embedding=FastEmbedEmbeddings())(DOCUMENTS)
    return VectorRetrieval(vector_store=vector_store, doc_store=doc_store, embedding=FastEmbedEmbeddings(), **settings)


def relevance(captured: Captured) -> dict[tuple[str, str, str], tuple[int, float]]:
    """(component class, score name, rank) -> (count, sum) of the relevance metric."""
    return {
        (
            p.attributes["kotaemon.component"].rpartition(".")[2],
            p.attributes["kotaemon.rerank.score.name"],
            p.attributes["kotaemon.rerank.document.rank"],
        ): (p.count, p.sum)
        for p in captured.points("kotaemon.rerank.relevance")
    }


# --- re-ranker scores


def test_each_reranker_reports_its_own_score_after_another_scored_the_same_documents(
    instrument: Callable[..., Captured], server: OpenAIServer
) -> None:
    """ktem's way: the index's re-ranker (Cohere) in the retrieval, then the relevance scorer (LLMTrulensScoring) on
    the same documents, which still carry Cohere's `reranking_score`."""
    captured = instrument(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="span_only")
    documents = retriever(rerankers=[CohereReranking()], top_k=3)(QUESTION)
    scored = LLMTrulensScoring(llm=chat(server, RATING_MODEL))(documents=documents, query=QUESTION)
    spans = {s.name: s for s in captured.spans()}
    cohere, trulens = spans["rerank CohereReranking"], spans["rerank LLMTrulensScoring"]
    assert cohere.attributes["kotaemon.rerank.score.name"] == "reranking_score"
    assert cohere.attributes["kotaemon.documents.scores"] == tuple(d.metadata["reranking_score"] for d in documents)
    assert trulens.attributes["kotaemon.rerank.score.name"] == "llm_trulens_score"
    expected = [d.metadata["llm_trulens_score"] for d in scored]
    assert trulens.attributes["kotaemon.documents.scores"] == tuple(expected)
    assert expected[0] == 0.5 and all(0 <= score < 0.5 for score in expected[1:])  # 5 of the question's words
    listed = json.loads(trulens.attributes["gen_ai.retrieval.documents"])
    assert [item["score"] for item in listed] == expected
    cohere_scores = [d.metadata["reranking_score"] for d in documents]
    assert relevance(captured) == {
        ("CohereReranking", "reranking_score", "top"): (1, max(cohere_scores)),
        ("CohereReranking", "reranking_score", "other"): (2, pytest.approx(sum(cohere_scores) - max(cohere_scores))),
        ("LLMTrulensScoring", "llm_trulens_score", "top"): (1, 0.5),
        ("LLMTrulensScoring", "llm_trulens_score", "other"): (2, pytest.approx(sum(expected[1:]))),
    }


def test_a_scoring_reranker_of_its_own_family_and_a_filtering_one(
    instrument: Callable[..., Captured], server: OpenAIServer
) -> None:
    captured = instrument()
    documents = retriever(top_k=3)(QUESTION)
    LLMScoring(llm=chat(server, "kt-judge"))(documents=documents, query=QUESTION)
    (span,) = [s for s in captured.spans() if s.name == "rerank LLMScoring"]
    assert span.attributes["kotaemon.rerank.score.name"] == "llm_reranking_score"
    assert span.attributes["kotaemon.documents.scores"] == (1.0, 1.0, 1.0)  # no log-probabilities: probability 1
    assert relevance(captured) == {
        ("LLMScoring", "llm_reranking_score", "top"): (1, 1.0),
        ("LLMScoring", "llm_reranking_score", "other"): (2, 2.0),
    }


def test_a_reranker_that_only_filters_records_no_relevance(instrument: Callable[..., Captured]) -> None:
    from kotaemon.indices.rankings import BaseReranking

    class FirstOnly(BaseReranking):
        def run(self, documents: list[Any], query: str) -> list[Any]:
            return documents[:1]

    captured = instrument()
    FirstOnly()(documents=retriever(top_k=2)(QUESTION), query=QUESTION)
    (span,) = [s for s in captured.spans() if s.name == "rerank FirstOnly"]
    assert "kotaemon.rerank.score.name" not in span.attributes
    assert "kotaemon.documents.scores" not in span.attributes
    assert captured.points("kotaemon.rerank.relevance") == []


# --- evaluations of answers


def answer(server: OpenAIServer, conversation: str, history: list[Any]) -> Any:
    """One question through ktem's reasoning pipeline, streamed as ktem's chat page streams it."""
    pipeline = FullQAPipeline(
        retrievers=[], answering_pipeline=AnswerWithContextPipeline(llm=chat(server, "kt-answer"))
    )
    return list(pipeline.stream("What is the answer?", conversation, history))


def evaluations(captured: Captured) -> list[Any]:
    """The evaluation events (SDK 1.28+ names a log record's event; older SDKs carry it as `event.name`)."""
    return [
        record
        for record in captured.logs()
        if (getattr(record, "event_name", None) or record.attributes.get("event.name")) == EVENT
    ]


def like_data(row: int, liked: bool) -> gr.LikeData:
    return gr.LikeData(None, {"index": [row, 1], "value": "The answer is 42", "liked": liked})


def test_likes_and_reports_are_evaluations_parented_to_the_answer(
    instrument: Callable[..., Captured], server: OpenAIServer
) -> None:
    captured = instrument()
    answer(server, "conv-1", [])
    answer(server, "conv-1", [["What is the answer?", "The answer is 42"]])
    first, second = sorted(
        (s for s in captured.spans() if s.name == "invoke_workflow FullQAPipeline"), key=lambda s: s.start_time or 0
    )
    ChatPage().is_liked("conv-1", like_data(0, True))
    ChatPage().is_liked(convo_id="conv-1", liked=like_data(1, False))
    history = [["What is the answer?", "The answer is 42"]] * 2
    ReportIssue().report("correct", ["offensive"], "fine, mail me at bob@example.com", "conv-1", history, {}, 1, "", {})
    liked, disliked, report = evaluations(captured)
    for event, span in ((liked, first), (disliked, second), (report, second)):
        assert (event.trace_id, event.span_id) == (span.context.trace_id, span.context.span_id)
        assert event.attributes["gen_ai.conversation.id"] == "conv-1"
    assert {k: v for k, v in liked.attributes.items() if k != "event.name"} == {
        "gen_ai.evaluation.name": "user_feedback",
        "gen_ai.evaluation.score.label": "liked",
        "gen_ai.evaluation.score.value": 1.0,
        "gen_ai.conversation.id": "conv-1",
        "gen_ai.response.id": "chatcmpl-test123",
        "kotaemon.evaluation.answer.index": 0,
    }
    assert disliked.attributes["gen_ai.evaluation.score.label"] == "disliked"
    assert report.attributes["gen_ai.evaluation.name"] == "user_report"
    assert report.attributes["gen_ai.evaluation.score.label"] == "correct"
    assert report.attributes["gen_ai.evaluation.score.value"] == 1.0
    assert report.attributes["kotaemon.evaluation.issues"] == ("offensive",)
    assert "gen_ai.evaluation.explanation" not in report.attributes  # the user's text is content: off by default
    counts = {
        (p.attributes["gen_ai.evaluation.name"], p.attributes["gen_ai.evaluation.score.label"]): p.value
        for p in captured.points("kotaemon.evaluations")
    }
    assert counts == {("user_feedback", "liked"): 1, ("user_feedback", "disliked"): 1, ("user_report", "correct"): 1}
    assert {p.attributes["gen_ai.request.model"] for p in captured.points("kotaemon.evaluations")} == {"kt-answer"}


def test_a_regenerated_answer_takes_the_place_of_the_one_before(
    instrument: Callable[..., Captured], server: OpenAIServer
) -> None:
    captured = instrument()
    answer(server, "conv-2", [])
    answer(server, "conv-2", [])  # ktem's regenerate: the same chat again
    latest = max(
        (s for s in captured.spans() if s.name == "invoke_workflow FullQAPipeline"), key=lambda s: s.start_time or 0
    )
    ChatPage().is_liked("conv-2", like_data(0, True))
    (event,) = evaluations(captured)
    assert event.span_id == latest.context.span_id


def test_a_judgement_of_an_unknown_answer_keeps_its_conversation_and_says_so(
    instrument: Callable[..., Captured],
) -> None:
    captured = instrument(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="event_only")
    ReportIssue().report("incorrect", [], "it said 41; call +1 415 555 0100", "conv-gone", [["q", "a"]], {}, 1, "", {})
    (event,) = evaluations(captured)
    assert event.trace_id == 0 and event.span_id == 0
    assert event.attributes["kotaemon.evaluation.answer.unknown"] is True
    assert event.attributes["gen_ai.conversation.id"] == "conv-gone"
    assert event.attributes["gen_ai.evaluation.explanation"] == "it said 41; call [REDACTED:phone]"
    (point,) = captured.points("kotaemon.evaluations")
    assert dict(point.attributes) == {
        "gen_ai.evaluation.name": "user_report",
        "gen_ai.evaluation.score.label": "incorrect",
    }


def test_the_handlers_get_what_the_app_passed_and_return_as_without_us(instrument: Callable[..., Captured]) -> None:
    instrument()
    page, form = ChatPage(), ReportIssue()
    data = like_data(0, True)
    assert page.is_liked("conv-3", data) is None
    assert page.data_sources["conv-3"]["likes"] == [[[0, 1], "The answer is 42", True]]
    assert form.report(None, [], "", "conv-3", [], {}, None, "", {}, ["f1"]) is None  # nothing to judge: no event
    assert form.reports[0]["chat"]["selecteds"] == [["f1"]]
    with pytest.raises(AttributeError):
        page.is_liked("conv-3", object())  # the app's own error, untouched


def test_uninstrument_gives_the_handlers_back(instrument: Callable[..., Captured]) -> None:
    from opentelemetry_instrumentation_kotaemon import KotaemonInstrumentor

    instrument()
    assert getattr(ChatPage.__dict__["is_liked"], "_self_kotaemon", False)
    assert getattr(ReportIssue.__dict__["report"], "_self_kotaemon", False)
    KotaemonInstrumentor().uninstrument()
    assert not hasattr(ChatPage.__dict__["is_liked"], "_self_kotaemon")
    assert not hasattr(ReportIssue.__dict__["report"], "_self_kotaemon")
