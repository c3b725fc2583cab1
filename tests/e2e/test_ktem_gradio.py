"""End to end: a ktem-like Gradio app under `opentelemetry-instrument`, driven over HTTP like the browser drives ktem.

The app (tests/apps/ktem_gradio_app.py) runs Gradio's queue as ktem does; `opentelemetry-instrumentation-fastapi` is
installed, as in Kotaemon's lock, so Gradio's FastAPI server is instrumented, unless it is disabled. One browser
session uploads a file twice (the second copy fails, as in ktem) and asks two questions in one conversation; a second
session asks one question with an incoming `traceparent`. The ASGI layer's `http send` / `http receive` spans are
left out by default (`OTEL_KOTAEMON_ASGI_MESSAGE_SPANS=true` keeps them), and each event links to the `GET /queue/data`
request that streamed its messages to the browser, and back.
"""

from __future__ import annotations

import hashlib
import inspect
import os
from collections.abc import Iterator
from dataclasses import dataclass
from unittest import mock

import pytest

from tests.support.gradio_app import QUIET, USER_ID, GradioApp, ask, upload
from tests.support.openai_server import ASK_STREAM_USAGE, OpenAIServer
from tests.support.otlp_receiver import OtlpReceiver, Span

OURS = "opentelemetry_instrumentation_kotaemon"
SERVER = 2
MESSAGE_SPANS = (" http send", " http receive")
REMOTE_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
REMOTE_PARENT = "00f067aa0ba902b7"
HASHED_USER = "sha256:" + hashlib.sha256(USER_ID.encode()).hexdigest()[:16]
QUESTION_SPANS = {
    "invoke_workflow FullQAPipeline",
    "retrieval DocumentRetrievalPipeline",
    "retrieval VectorRetrieval",
    "embeddings kt-embed",
    "invoke_workflow AnswerWithContextPipeline",
    "chat kt-answer",
    "invoke_workflow CitationPipeline",
    "invoke_workflow CreateMindmapPipeline",
}
FOLLOW_UPS = ("lambda", "check_and_suggest_name_conv", "suggest_chat_conv", "persist_data_source")


@dataclass
class Run:
    fastapi: bool
    spans: list[Span]

    @property
    def server_traced(self) -> bool:
        """Whether the server made request spans: the FastAPI instrumentation, or FastAPI's own tracing (the newest
        FastAPI releases trace requests themselves once a tracer provider is set)."""
        return any(s.kind == SERVER and s.name.endswith("/queue/join") for s in self.spans)

    def events(self, name: str) -> list[Span]:
        return sorted((s for s in self.spans if s.name == f"gradio {name}"), key=lambda s: s.start)

    def trace(self, span: Span) -> list[Span]:
        return [s for s in self.spans if s.trace_id == span.trace_id]

    def below(self, top: Span) -> list[Span]:
        """`top` and every span under it."""
        found, pending = [], [top]
        while pending:
            span = pending.pop()
            found.append(span)
            pending.extend(s for s in self.spans if s.parent_id == span.span_id and s.trace_id == span.trace_id)
        return found

    def request_of(self, event: Span) -> list[Span]:
        """The spans above `event`, nearest first: the request that queued it (a server span, or FastAPI's own
        endpoint span under it), or nothing when the server makes no spans."""
        by_id = {s.span_id: s for s in self.trace(event)}
        found = []
        while event.parent_id in by_id:
            event = by_id[event.parent_id]
            found.append(event)
        return found

    def data_requests(self) -> list[Span]:
        """The server spans of the `GET /queue/data` requests (the streams of events' messages to the browser)."""
        return [s for s in self.spans if s.kind == SERVER and s.name.endswith("/queue/data")]

    def event_links(self, span: Span) -> list[tuple[str, str]]:
        """The links of `span` but those to and from data requests."""
        data = {(s.trace_id, s.span_id) for s in self.data_requests()}
        return [link for link in span.links if link not in data]

    def questions(self) -> list[Span]:
        """The `chat_fn` events of the first session (the second one sent a `traceparent`)."""
        return [s for s in self.events("chat_fn") if s.trace_id != REMOTE_TRACE]


def fastapi_traces_itself() -> bool:
    from fastapi import FastAPI

    return "telemetry" in inspect.signature(FastAPI.__init__).parameters


@pytest.fixture(scope="module", params=["fastapi", "no-fastapi"])
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    fastapi = request.param == "fastapi"
    env = {**ASK_STREAM_USAGE}  # the answer's tokens are counted from its stream's usage
    if not fastapi:
        env["OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"] = "fastapi"
    workdir = tmp_path_factory.mktemp(request.param)
    notes = workdir / "notes.txt"
    notes.write_text("Cats sleep most of the day. The answer to everything is 42. Paris is the capital of France.")
    with mock.patch.dict(os.environ, QUIET), OpenAIServer() as server, OtlpReceiver() as receiver:
        app = GradioApp(receiver, server.base_url, workdir, env)
        try:
            session = app.client()
            assert upload(session, notes, notes) == "success | notes.txt\nfailed | notes.txt"
            history = ask(session, "What is the answer?", [])
            history = ask(session, "And the capital of France?", history)
            assert [answer for _, answer in history] == [history[0][1]] * 2 and "42" in history[0][1]
            remote = app.client(headers={"traceparent": f"00-{REMOTE_TRACE}-{REMOTE_PARENT}-01"})
            ask(remote, "Where do cats sleep?", [])
            with pytest.raises(Exception, match="Unknown LLM vendor"):
                session.predict("nope", api_name="/create_llm")
        finally:
            app.stop()
        run = Run(fastapi, list(receiver.spans))
        assert run.server_traced == (fastapi or fastapi_traces_itself())
        yield run


def test_each_question_is_one_trace_started_by_its_request(run: Run) -> None:
    questions = run.questions()
    assert len(questions) == 2
    assert len({q.trace_id for q in questions}) == 2
    for question in questions:
        trace = run.trace(question)
        ids = {s.span_id for s in trace}
        assert all(s.parent_id == "" or s.parent_id in ids for s in trace), "orphans in the question's trace"
        (root,) = [s for s in trace if s.parent_id == ""]
        if run.server_traced:  # the `POST /queue/join` that asked (with its own spans), then the event
            assert root.kind == SERVER and root.name.endswith("/queue/join"), root.name
            request = run.request_of(question)
            assert request[-1] is root and all(s.scope != OURS for s in request)
        else:
            assert root is question
        ours = [s for s in trace if s.scope == OURS]
        assert sorted(s.span_id for s in ours) == sorted(s.span_id for s in run.below(question))
        assert {s.name for s in ours} == QUESTION_SPANS | {"gradio chat_fn"}
        assert [s.name for s in ours].count("chat kt-answer") == 3  # the answer, its citations, the mind map


def test_the_startup_request_holds_no_event(run: Run) -> None:
    ours = [s for s in run.spans if s.scope == OURS]
    event_traces = {s.trace_id for s in ours if s.name.startswith("gradio ")}
    assert {s.trace_id for s in ours} == event_traces, "a span of ours outside every event's trace"
    startup = [s for s in run.spans if s.name.endswith("/startup-events")]
    assert bool(startup) == run.server_traced
    for span in startup:
        assert [s.name for s in run.trace(span) if s.scope == OURS] == []
    local_events = [s for s in ours if s.name.startswith("gradio ") and s.trace_id != REMOTE_TRACE]
    assert len({s.trace_id for s in local_events}) == len(local_events), "two events in one trace"


def test_conversation_session_and_user_on_every_span_of_a_question(run: Run) -> None:
    conversations = set()
    for question in run.events("chat_fn"):
        conversation = question.attributes["gen_ai.conversation.id"]
        conversations.add(conversation)
        for span in run.below(question):
            assert span.attributes["gen_ai.conversation.id"] == conversation, span.name
            assert span.attributes["user.id"] == HASHED_USER, span.name
            assert span.attributes["session.id"] == question.attributes["session.id"], span.name
        (pipeline,) = [s for s in run.below(question) if s.name == "invoke_workflow FullQAPipeline"]
        assert pipeline.attributes["gen_ai.conversation.id"] == conversation  # allowed there since #410
    assert len(conversations) == 2  # the first session's two questions share one


def test_retrievals_name_the_file_index_they_read(run: Run) -> None:
    for question in run.events("chat_fn"):
        retrievals = [s for s in run.below(question) if s.name.startswith("retrieval ")]
        by_index = {
            index: sorted(s.name for s in retrievals if s.attributes["gen_ai.data_source.id"] == index)
            for index in ("1", "2")
        }
        assert by_index == {
            "1": ["retrieval DocumentRetrievalPipeline", "retrieval VectorRetrieval"],
            "2": ["retrieval DocumentRetrievalPipeline"],  # no file of index 2 selected: it searched nothing
        }
        assert [
            s.attributes.get("kotaemon.retrieval.skipped")
            for s in retrievals
            if s.attributes["gen_ai.data_source.id"] == "2"
        ] == [True]
        assert not any(
            s.attributes.get("kotaemon.retrieval.skipped")
            for s in retrievals
            if s.attributes["gen_ai.data_source.id"] == "1"
        )


def test_follow_ups_are_traces_of_their_own_linked_to_their_question(run: Run) -> None:
    questions = run.events("chat_fn")
    for name in FOLLOW_UPS:
        follow_ups = run.events(name)
        assert len(follow_ups) == len(questions) == 3
        for question, follow_up in zip(questions, follow_ups, strict=True):
            assert follow_up.start > question.end
            if question.trace_id != REMOTE_TRACE:  # that session sends one `traceparent` with every request
                assert follow_up.trace_id != question.trace_id
            assert run.event_links(follow_up) == [(question.trace_id, question.span_id)]
            assert follow_up.attributes["gen_ai.conversation.id"] == question.attributes["gen_ai.conversation.id"]
            assert follow_up.attributes["session.id"] == question.attributes["session.id"]
            for span in run.below(follow_up):
                assert span.attributes["gen_ai.conversation.id"] == question.attributes["gen_ai.conversation.id"]
    name_suggestions = [[s.name for s in run.below(e)] for e in run.events("check_and_suggest_name_conv")]
    assert name_suggestions[0] == [
        "gradio check_and_suggest_name_conv",
        "invoke_workflow SuggestConvNamePipeline",
        "chat kt-name",
    ]
    assert name_suggestions[1] == ["gradio check_and_suggest_name_conv"]  # ktem names a conversation once
    for event in run.events("suggest_chat_conv"):
        assert [s.name for s in run.below(event)] == [
            "gradio suggest_chat_conv",
            "invoke_workflow SuggestFollowupQuesPipeline",
            "chat kt-suggest",
        ]
    submits = run.events("submit_msg")
    assert [run.event_links(q) for q in questions] == [[(s.trace_id, s.span_id)] for s in submits]


def test_tokens_of_a_question_are_counted_once_embeddings_included(run: Run) -> None:
    for question in run.questions():
        spans = run.below(question)
        (root,) = [s for s in spans if s.name == "invoke_workflow FullQAPipeline"]
        models = [s for s in spans if s.attributes.get("kotaemon.span.kind") in ("llm", "embedding")]
        model_ids = {s.span_id for s in models}
        assert not [s for s in models if s.parent_id in model_ids], "a model call counted at two layers"
        chat = sum(s.attributes["gen_ai.usage.input_tokens"] for s in models if s.name.startswith("chat "))
        embeddings = sum(s.attributes["gen_ai.usage.input_tokens"] for s in models if s.name.startswith("embeddings "))
        assert chat > 0 and embeddings > 0
        assert root.attributes["kotaemon.usage.chat.input_tokens"] == chat
        assert root.attributes["kotaemon.usage.embeddings.input_tokens"] == embeddings
        assert root.attributes["kotaemon.usage.input_tokens"] == chat + embeddings
        assert "kotaemon.usage.input_tokens" not in question.attributes


def test_an_upload_is_one_trace_with_its_failed_file_marked(run: Run) -> None:
    (started,) = run.events("upload_started")
    (indexing,) = run.events("index_fn_file_with_default_loaders")
    (listed,) = run.events("load_files")
    assert indexing.trace_id != started.trace_id
    assert run.event_links(indexing) == [(started.trace_id, started.span_id)]
    assert run.event_links(listed) == [(indexing.trace_id, indexing.span_id)]  # no question in this chain
    spans = run.below(indexing)
    assert [s.name for s in sorted(spans, key=lambda s: s.start)] == [
        "gradio index_fn_file_with_default_loaders",
        "index IndexDocumentPipeline",
        "index IndexPipeline",
        "embeddings kt-embed",
        "index IndexPipeline",
    ]
    batch, first, embedding, second = sorted(spans, key=lambda s: s.start)[1:]
    assert batch.is_error and batch.attributes["kotaemon.indexing.failed_count"] == 1
    assert batch.attributes["kotaemon.documents.count"] == 1
    assert "1 of 2 files failed: File notes.txt already indexed" in batch.status_message
    assert not first.is_error and embedding.parent_id == first.span_id
    assert first.attributes["kotaemon.indexing.chunk_count"] == 2  # 18 words in chunks of 16
    assert "kotaemon.indexing.chunk_count" not in second.attributes  # refused before it was split
    assert second.is_error and "already indexed" in second.status_message
    assert (
        batch.attributes["kotaemon.usage.embeddings.input_tokens"] == embedding.attributes["gen_ai.usage.input_tokens"]
    )
    assert all(s.attributes["user.id"] == HASHED_USER for s in spans)
    assert not indexing.is_error and indexing.attributes["kotaemon.app.event.status"] == "success"


def test_a_failed_event_carries_the_exception_its_function_raised(run: Run) -> None:
    (event,) = run.events("create_llm")
    assert event.is_error
    assert event.attributes["error.type"] == "gradio.exceptions.Error"
    assert "Unknown LLM vendor: nope" in event.status_message
    assert event.attributes["kotaemon.app.event.status"] == "failed"


def test_an_incoming_trace_context_is_continued(run: Run) -> None:
    (question,) = [s for s in run.events("chat_fn") if s.trace_id == REMOTE_TRACE]
    if run.server_traced:
        server = run.request_of(question)[-1]
        assert server.kind == SERVER and server.parent_id == REMOTE_PARENT
    else:
        assert question.parent_id == REMOTE_PARENT
    assert {s.name for s in run.below(question)} == QUESTION_SPANS | {"gradio chat_fn"}


def test_no_asgi_message_spans_by_default_and_the_request_spans_stay(run: Run) -> None:
    assert [s.name for s in run.spans if s.name.endswith(MESSAGE_SPANS)] == []
    if run.fastapi:
        requests = {s.name.replace("/gradio_api", "") for s in run.spans if s.kind == SERVER}  # Gradio 5's prefix
        assert {"POST /queue/join", "GET /queue/data"} <= requests, requests


def test_each_answer_links_to_the_data_request_that_streamed_it_and_back(run: Run) -> None:
    if not run.fastapi:  # the hook that notes data requests is the FastAPI instrumentation's
        assert all(run.event_links(s) == s.links for s in run.spans)
        return
    data = {(s.trace_id, s.span_id): s for s in run.data_requests()}
    for question in run.events("chat_fn"):
        streams = [data[link] for link in question.links if link in data]
        assert streams, "the answer is not linked to the request that carried it"
        for stream in streams:
            assert stream.attributes.get("http.target", stream.attributes.get("url.path")).endswith("/queue/data")
            assert (question.trace_id, question.span_id) in stream.links
            assert stream.start <= question.end and question.start <= stream.end  # open together
    for stream in run.data_requests():  # a request links only to events, of its own session
        linked = [s for s in run.spans if (s.trace_id, s.span_id) in stream.links]
        assert all(s.scope == OURS and s.name.startswith("gradio ") for s in linked)
        assert len({s.attributes["session.id"] for s in linked}) <= 1


@pytest.fixture(scope="module")
def message_spans_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Span]]:
    """The setting that keeps the ASGI layer's message spans; one question."""
    workdir = tmp_path_factory.mktemp("message-spans")
    with mock.patch.dict(os.environ, QUIET), OpenAIServer() as server, OtlpReceiver() as receiver:
        app = GradioApp(receiver, server.base_url, workdir, {"OTEL_KOTAEMON_ASGI_MESSAGE_SPANS": "true"})
        try:
            ask(app.client(), "What is the answer?", [])
        finally:
            app.stop()
        yield list(receiver.spans)


def test_the_setting_brings_the_message_spans_back(message_spans_run: list[Span]) -> None:
    by_id = {s.span_id: s for s in message_spans_run}
    messages = [s for s in message_spans_run if s.name.endswith(MESSAGE_SPANS)]
    names = {s.name.replace("/gradio_api", "") for s in messages}
    assert names >= {"GET /queue/data http send", "POST /queue/join http receive"}, names
    parents = [by_id[s.parent_id] for s in messages if s.parent_id in by_id]  # open at exit: not exported
    assert parents and all(parent.kind == SERVER for parent in parents)
    assert [s for s in message_spans_run if s.name == "gradio chat_fn"]


@pytest.fixture(scope="module", params=["fastapi", "no-fastapi"])
def sampled_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Span]]:
    """A sampler that keeps no new trace: only the session sending `X-Debug-Tracing: true` is traced (the header is
    read from the server span's request, or from the event's request when the server makes no spans)."""
    env = {"OTEL_TRACES_SAMPLER": "kotaemon_ratio", "OTEL_TRACES_SAMPLER_ARG": "0"}
    if request.param == "no-fastapi":
        env["OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"] = "fastapi"
    workdir = tmp_path_factory.mktemp(f"sampled-{request.param}")
    with mock.patch.dict(os.environ, QUIET), OpenAIServer() as server, OtlpReceiver() as receiver:
        app = GradioApp(receiver, server.base_url, workdir, env)
        try:
            ask(app.client(), "Not traced?", [])
            ask(app.client(headers={"X-Debug-Tracing": "true"}), "Traced?", [])
        finally:
            app.stop()
        yield list(receiver.spans)


def test_the_debug_header_of_a_question_traces_it_past_the_sampler(sampled_run: list[Span]) -> None:
    events = [s for s in sampled_run if s.scope == OURS and s.name.startswith("gradio ")]
    assert sorted(s.name for s in events) == sorted(f"gradio {name}" for name in ("submit_msg", "chat_fn", *FOLLOW_UPS))
    (question,) = [s for s in events if s.name == "gradio chat_fn"]
    assert {s.name for s in sampled_run if s.trace_id == question.trace_id and s.scope == OURS} == {
        "gradio chat_fn",
        "invoke_workflow FullQAPipeline",
        "retrieval DocumentRetrievalPipeline",  # no file uploaded: nothing to retrieve, no citations
        "invoke_workflow AnswerWithContextPipeline",
        "chat kt-answer",
    }
    assert len({s.attributes["session.id"] for s in events}) == 1
