"""Answer quality in detail: the book of answers, how a like or a report names the answer it judges, which score a
re-ranker gave, and the ktem hook points `doctor` looks for."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from opentelemetry.trace import SpanContext

from opentelemetry_instrumentation_kotaemon import attributes as attr
from opentelemetry_instrumentation_kotaemon.cli import doctor
from opentelemetry_instrumentation_kotaemon.core.evaluations import Answer, AnswerBook, Evaluation
from opentelemetry_instrumentation_kotaemon.kotaemon import classify, ktem_hooks
from opentelemetry_instrumentation_kotaemon.kotaemon.feedback import (
    exchange_of_last_answer,
    exchange_of_message,
    like_evaluation,
    report_evaluation,
)
from opentelemetry_instrumentation_kotaemon.kotaemon.steps import _Reranked
from tests.kotaemon_standin import PATH as STANDIN


def span_context(span_id: int) -> SpanContext:
    return SpanContext(trace_id=1, span_id=span_id, is_remote=False)


# --- the book of answers


def test_the_book_keeps_the_most_recently_used_answers() -> None:
    book = AnswerBook(size=2)
    first, second, third = (Answer(span_context(n)) for n in (1, 2, 3))
    book.remember("c", 0, first)
    book.remember("c", 1, second)
    assert book.find("c", 0) is first  # judged: kept over the answer given after it
    book.remember("d", 0, third)
    assert len(book) == 2
    assert book.find("c", 1) is None and book.find("c", 0) is first and book.find("d", 0) is third
    regenerated = Answer(span_context(4))
    book.remember("c", 0, regenerated)
    assert book.find("c", 0) is regenerated


def test_an_answer_is_the_first_streamed_chat_call_else_the_first() -> None:
    answer = Answer(span_context(1))
    answer.note_model_call("kt-rewrite", "r1", streamed=False)
    answer.note_model_call("kt-other", "r2", streamed=False)
    assert (answer.model, answer.response_id) == ("kt-rewrite", "r1")
    answer.note_model_call("kt-answer", "r3", streamed=True)
    answer.note_model_call("kt-citation", "r4", streamed=False)
    answer.note_model_call("kt-late-stream", "r5", streamed=True)
    assert (answer.model, answer.response_id) == ("kt-answer", "r3")
    answer.data_sources.update({"2", "1"})
    assert answer.metric_attributes() == {attr.GEN_AI_REQUEST_MODEL: "kt-answer", attr.GEN_AI_DATA_SOURCE_ID: "1,2"}
    assert Answer(span_context(2)).metric_attributes() == {}


def test_an_evaluation_keeps_texts_apart_from_its_attributes() -> None:
    evaluation = Evaluation(
        name="user_report", conversation_id="c", answer_index=3, label="correct", score=1.0, issues=["x"]
    )
    evaluation.explanation = "words"
    assert evaluation.attributes() == {
        attr.GEN_AI_EVALUATION_NAME: "user_report",
        attr.KOTAEMON_EVALUATION_ANSWER_INDEX: 3,
        attr.GEN_AI_EVALUATION_SCORE_LABEL: "correct",
        attr.GEN_AI_EVALUATION_SCORE_VALUE: 1.0,
    }
    assert evaluation.metric_attributes() == {
        attr.GEN_AI_EVALUATION_NAME: "user_report",
        attr.GEN_AI_EVALUATION_SCORE_LABEL: "correct",
    }


# --- which answer a like or a report judges


@pytest.mark.parametrize(
    ("index", "exchange"),
    [([0, 1], 0), ((3, 1), 3), (1, 0), (5, 2), (0, 0), (None, None), ([], None), ("2", None), (True, None)],
)
def test_a_like_names_the_exchange_of_its_message(index: Any, exchange: int | None) -> None:
    assert exchange_of_message(index) == exchange


def test_a_report_judges_the_last_answer_of_its_chat() -> None:
    assert exchange_of_last_answer([["q1", "a1"], ("q2", "a2")]) == 1
    messages = [
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "a1"},
        {"role": "user", "content": "q2"},
        {"role": "assistant", "content": "a2"},
        {"role": "user", "content": "q3 (no answer yet)"},
    ]
    assert exchange_of_last_answer(messages) == 1
    assert exchange_of_last_answer([]) is None and exchange_of_last_answer(None) is None
    assert exchange_of_last_answer([{"role": "user", "content": "q"}]) is None


def like(index: Any, liked: Any) -> SimpleNamespace:
    return SimpleNamespace(index=index, value="the answer", liked=liked)


def test_likes_dislikes_and_other_feedback() -> None:
    liked = like_evaluation(("c1", like([2, 1], True)), {})
    assert liked is not None and (liked.conversation_id, liked.answer_index) == ("c1", 2)
    assert (liked.name, liked.label, liked.score) == (attr.EVALUATION_USER_FEEDBACK, "liked", 1.0)
    disliked = like_evaluation((), {"convo_id": 7, "liked": like(3, False)})  # ktem's conversation ids are strings
    assert disliked is not None and (disliked.conversation_id, disliked.answer_index) == ("7", 1)
    assert (disliked.label, disliked.score) == ("disliked", 0.0)
    other = like_evaluation(("c1", like(1, "Inappropriate")), {})  # newer Gradio's feedback options
    assert other is not None and (other.label, other.score) == ("Inappropriate", None)
    assert like_evaluation(("c1", like(1, "")), {}) is None  # feedback taken back
    assert like_evaluation(("", like(1, True)), {}) is None  # no conversation to judge in
    assert like_evaluation(("c1", object()), {}) is None


def test_a_report_reads_ktems_form() -> None:
    history = [["q1", "a1"], ["q2", "a2"]]
    report = report_evaluation(("incorrect", ["offensive", 3], "so wrong", "c1", history, {}, 1, "", {}, "f"), {})
    assert report is not None
    assert (report.name, report.conversation_id, report.answer_index) == (attr.EVALUATION_USER_REPORT, "c1", 1)
    assert (report.label, report.score, report.issues, report.explanation) == (
        "incorrect",
        0.0,
        ["offensive"],
        "so wrong",
    )
    keywords = {"correctness": None, "issues": [], "more_detail": "", "conv_id": "c1", "chat_history": history}
    bare = report_evaluation((), keywords)
    assert bare is not None and (bare.label, bare.score, bare.issues, bare.explanation) == (None, None, [], None)
    assert report_evaluation(("correct", [], "", "c1", []), {}) is None  # no answer to judge


# --- which score a re-ranker gave


def doc(**scores: float) -> SimpleNamespace:
    return SimpleNamespace(metadata=dict(scores))


def test_the_rerankers_score_is_the_one_that_appeared_during_its_call() -> None:
    documents = [doc(reranking_score=0.9), doc(reranking_score=0.2)]
    reader = _Reranked(documents)
    for document, rating in zip(documents, (0.7, 0.4), strict=True):
        document.metadata["llm_trulens_score"] = rating
    assert reader.settle(documents) == "llm_trulens_score"
    assert [reader.score(d) for d in documents] == [0.7, 0.4]


def test_a_score_set_again_is_found_by_its_new_value_and_an_unchanged_one_is_not_the_rerankers() -> None:
    documents = [doc(reranking_score=0.9), doc(reranking_score=0.2)]
    rescored = _Reranked(documents)
    documents[1].metadata["reranking_score"] = 0.95  # a second Cohere pass on the same documents
    assert rescored.settle(documents) == "reranking_score"
    filtering = _Reranked(documents)  # a filter after a scorer: the documents keep the scorer's score
    assert filtering.settle(documents[:1]) is None
    assert filtering.score(documents[0]) is None
    fresh = _Reranked([])
    assert fresh.settle([doc(llm_reranking_score=0.3, reranking_score=0.1)]) == "reranking_score"  # first in order


def test_documents_without_scores_have_none() -> None:
    reader = _Reranked([doc(), "not a document"])
    assert reader.settle([doc(), "x"]) is None
    assert reader.score(doc(reranking_score=0.5)) is None
    assert _Reranked(None).settle(None) is None
    numeric = _Reranked([doc()])
    numeric.settle([doc(reranking_score=1)])
    assert numeric.score(doc(reranking_score=1)) == 1.0 and numeric.score(doc(reranking_score="high")) is None


# --- ktem hook points


def test_every_ktem_class_the_classifier_knows_is_a_hook_point() -> None:
    keys = {
        key
        for bases in vars(classify).values()
        if isinstance(bases, frozenset)
        for key in bases
        if isinstance(key, str) and key.startswith("ktem.")
    }
    assert keys
    hooked = {f"{hook.module}.{hook.path.partition('.')[0]}" for hook in ktem_hooks.HOOK_POINTS}
    assert keys <= hooked, keys - hooked


def test_the_standin_has_every_hook_point() -> None:
    assert all(ktem_hooks.is_defined(hook, [STANDIN / "ktem"]) for hook in ktem_hooks.HOOK_POINTS)


def test_doctor_lists_found_and_missing_hook_points(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ktem = tmp_path / "ktem"
    (ktem / "pages" / "chat").mkdir(parents=True)
    (ktem / "pages" / "chat" / "__init__.py").write_text("class ChatPage:\n    def is_liked_renamed(self): ...\n")
    (ktem / "reasoning").mkdir()
    (ktem / "reasoning" / "base.py").write_text("class BaseReasoning:\n    pass\n")
    monkeypatch.setattr(ktem_hooks, "ktem_folders", lambda: [ktem])
    lines: list[str] = []
    problems = doctor.ktem_report(lines.append)
    assert problems == len(ktem_hooks.HOOK_POINTS) - 1
    assert "  found   ktem.reasoning.base.BaseReasoning: " in "\n".join(lines)
    assert any(line.startswith("  MISSING ktem.pages.chat.ChatPage.is_liked: likes") for line in lines)
    monkeypatch.setattr(ktem_hooks, "ktem_folders", lambda: None)
    silent: list[str] = []
    assert doctor.ktem_report(silent.append) == 0 and silent == []
