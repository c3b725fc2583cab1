"""End to end: feedback on answers in the ktem-like Gradio app under `opentelemetry-instrument`, sent over HTTP as the
browser sends it, becomes `gen_ai.evaluation.result` events in the trace of the answer judged.

One browser session uploads a file and asks two questions in one conversation, then likes the first answer, dislikes
the second, likes an answer that was never given (the process does not know it: a restart looks the same) and files
a report on the last answer, with content capture on (the report's text is exported, redacted).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from unittest import mock

import pytest

from tests.support.gradio_app import QUIET, GradioApp, ask, like, upload
from tests.support.openai_server import OpenAIServer
from tests.support.otlp_receiver import LogRecord, OtlpReceiver, Point, Span

EVENT = "gen_ai.evaluation.result"
REPORT_TEXT = "The capital is wrong, write to bob@example.com"


@dataclass
class Feedback:
    spans: list[Span]
    logs: list[LogRecord]
    points: list[Point]

    def answers(self) -> list[Span]:
        """The reasoning pipeline of each question, in order: the operation a judgement of its answer is about."""
        return sorted((s for s in self.spans if s.name == "invoke_workflow FullQAPipeline"), key=lambda s: s.start)

    def evaluations(self) -> list[LogRecord]:
        return [record for record in self.logs if record.event_name == EVENT]


@pytest.fixture(scope="module")
def feedback(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Feedback]:
    workdir = tmp_path_factory.mktemp("feedback")
    notes = workdir / "notes.txt"
    notes.write_text("Cats sleep most of the day. The answer to everything is 42. Paris is the capital of France.")
    env = {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "span_only"}
    with mock.patch.dict(os.environ, QUIET), OpenAIServer() as server, OtlpReceiver() as receiver:
        app = GradioApp(receiver, server.base_url, workdir, env)
        try:
            session = app.client()
            upload(session, notes)
            history = ask(session, "What is the answer?", [])
            history = ask(session, "And the capital of France?", history)
            like(session, history, 0, liked=True)
            like(session, history, 1, liked=False)
            like(session, history, 7, liked=True)  # an answer this process never gave
            session.predict("incorrect", ["wrong-evidence"], REPORT_TEXT, history, "", api_name="/report")
        finally:
            app.stop()
        yield Feedback(list(receiver.spans), list(receiver.logs), list(receiver.points))


def test_likes_and_dislikes_are_evaluations_in_the_trace_of_the_answer(feedback: Feedback) -> None:
    first, second = feedback.answers()
    conversation = first.attributes["gen_ai.conversation.id"]
    assert second.attributes["gen_ai.conversation.id"] == conversation
    likes = [e for e in feedback.evaluations() if e.attributes["gen_ai.evaluation.name"] == "user_feedback"]
    liked, disliked, unknown = likes
    for event, answer, label, score in ((liked, first, "liked", 1.0), (disliked, second, "disliked", 0.0)):
        assert (event.trace_id, event.span_id) == (answer.trace_id, answer.span_id)
        assert event.attributes["gen_ai.evaluation.score.label"] == label
        assert event.attributes["gen_ai.evaluation.score.value"] == score
        assert event.attributes["gen_ai.conversation.id"] == conversation
        assert event.attributes["gen_ai.response.id"] == "chatcmpl-test123"  # the answer's streamed model call
        assert "kotaemon.evaluation.answer.unknown" not in event.attributes
    assert [e.attributes["kotaemon.evaluation.answer.index"] for e in likes] == [0, 1, 7]
    # the like of an answer not known here: no parent, the conversation and the answer's place only
    assert unknown.attributes["kotaemon.evaluation.answer.unknown"] is True
    assert unknown.attributes["gen_ai.conversation.id"] == conversation
    assert int(unknown.trace_id or "0", 16) == 0 and int(unknown.span_id or "0", 16) == 0


def test_a_report_judges_the_last_answer_with_its_text_redacted(feedback: Feedback) -> None:
    (report,) = [e for e in feedback.evaluations() if e.attributes["gen_ai.evaluation.name"] == "user_report"]
    last = feedback.answers()[-1]
    assert (report.trace_id, report.span_id) == (last.trace_id, last.span_id)
    assert report.attributes["gen_ai.evaluation.score.label"] == "incorrect"
    assert report.attributes["gen_ai.evaluation.score.value"] == 0.0
    assert report.attributes["kotaemon.evaluation.issues"] == ["wrong-evidence"]
    assert report.attributes["gen_ai.evaluation.explanation"] == "The capital is wrong, write to [REDACTED:email]"
    assert "bob@example.com" not in repr(feedback.logs)


def test_evaluations_are_counted_by_the_answers_model_and_index(feedback: Feedback) -> None:
    counted = {
        (
            p.attributes["gen_ai.evaluation.name"],
            p.attributes.get("gen_ai.evaluation.score.label"),
            p.attributes.get("gen_ai.request.model"),
            p.attributes.get("gen_ai.data_source.id"),
        ): p.value
        for p in feedback.points
        if p.metric == "kotaemon.evaluations"
    }
    assert counted == {
        ("user_feedback", "liked", "kt-answer", "1"): 1,
        ("user_feedback", "disliked", "kt-answer", "1"): 1,
        ("user_feedback", "liked", None, None): 1,  # the unknown answer
        ("user_report", "incorrect", "kt-answer", "1"): 1,
    }


def test_the_app_stored_every_judgement_as_without_us(feedback: Feedback) -> None:
    """The handlers ran with what Gradio gave them (a `gr.LikeData` each) and returned as without us."""
    events = [s for s in feedback.spans if s.name in ("gradio is_liked", "gradio report")]
    assert sorted(s.name for s in events) == ["gradio is_liked"] * 3 + ["gradio report"]
    assert all(s.attributes["kotaemon.app.event.status"] == "success" for s in events)
