"""Gradio's queue in process, instrumented in code, driven by `gradio_client`: concurrent questions, batched events,
failed events, uninstrument. (tests/e2e/test_ktem_gradio.py runs the ktem-like app under `opentelemetry-instrument`.)"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import pytest
import wrapt

from opentelemetry_instrumentation_kotaemon import KotaemonInstrumentor
from tests.conftest import Captured
from tests.kotaemon_standin import use
from tests.support.gradio_app import QUIET
from tests.support.openai_server import OpenAIServer

use()

with mock.patch.dict(os.environ, QUIET):
    import gradio as gr
    import gradio.blocks
    import gradio.queueing
    from gradio_client import Client

from kotaemon.indices.qa.citation_qa import AnswerWithContextPipeline  # noqa: E402
from kotaemon.llms import ChatOpenAI  # noqa: E402
from ktem.reasoning.simple import FullQAPipeline  # noqa: E402


class App:
    def __init__(self, captured: Captured, url: str, queue: Any) -> None:
        self.captured = captured
        self.url = url
        self.queue = queue
        self.batches: list[list[str]] = []
        """The names each call of the batched functions received."""
        self.release = threading.Event()
        """Lets a call of a batched function for the name "first" return."""

    def client(self) -> Client:
        return Client(self.url, verbose=False, download_files=False)

    def events(self, name: str) -> list[Any]:
        return [s for s in self.captured.spans() if s.name == f"gradio {name}"]

    def trace(self, span: Any) -> list[Any]:
        return [s for s in self.captured.spans() if s.context.trace_id == span.context.trace_id]

    def queued(self) -> int:
        """Events waiting in Gradio's queue."""
        return sum(len(waiting.queue) for waiting in self.queue.event_queue_per_concurrency_id.values())

    def batch(self, api_name: str, names: list[str]) -> tuple[Any, list[Any]]:
        """Send "first", then `names` from a browser session each while the call for "first" holds the function (one
        call at a time): they wait together and Gradio hands them to the next call as one batch. Returns the jobs."""
        self.release.clear()
        first = self.client().submit("first", api_name=api_name)
        self._wait(lambda: self.batches[-1:] == [["first"]])
        jobs = [self.client().submit(name, api_name=api_name) for name in names]
        self._wait(lambda: self.queued() == len(names))
        self.release.set()
        return first, jobs

    @staticmethod
    def _wait(condition: Callable[[], bool]) -> None:
        deadline = time.monotonic() + 60
        while not condition():
            assert time.monotonic() < deadline, "the condition was never met"
            time.sleep(0.01)


@pytest.fixture
def app(instrument: Callable[..., Captured], openai_server: OpenAIServer) -> Iterator[App]:
    captured = instrument()
    llm = ChatOpenAI(model="slow-40", base_url=openai_server.base_url, api_key="sk-test")

    state: App  # made once the app runs; its functions read it when called

    def chat_fn(conversation_id: str, question: str) -> Iterator[str]:
        pipeline = FullQAPipeline(retrievers=[], answering_pipeline=AnswerWithContextPipeline(llm=llm))
        answer = ""
        for document in pipeline.stream(question, conversation_id, []):
            answer += document.content or ""
            yield answer

    def fail_fn(question: str) -> str:
        raise ValueError("no answer")

    def upload_started() -> str:
        return "indexing"

    def index_files() -> str:
        return "indexed"

    def list_files() -> str:
        return "notes.txt"

    def greet(names: list[str]) -> tuple[list[str]]:
        state.batches.append(list(names))
        if "first" in names:
            state.release.wait(60)
        else:
            llm("hi")  # the work of the call, for every event of its batch
        return ([f"hello {name}" for name in names],)

    def shout(names: list[str]) -> tuple[list[str]]:
        state.batches.append(list(names))
        if "first" in names:
            state.release.wait(60)
            return (["FIRST"],)
        raise ValueError(f"cannot shout to {names[0]}@example.com")

    with mock.patch.dict(os.environ, QUIET), gr.Blocks() as demo:
        conversation, question, answer = gr.Textbox(), gr.Textbox(), gr.Textbox()
        question.submit(chat_fn, inputs=[conversation, question], outputs=answer, concurrency_limit=4)
        answer.change(fail_fn, inputs=[question], outputs=answer)
        status, upload = gr.Textbox(), gr.Button()
        upload.click(upload_started, outputs=status).then(index_files, outputs=status).then(list_files, outputs=status)
        name, greeting = gr.Textbox(), gr.Textbox()
        name.submit(greet, inputs=name, outputs=greeting, batch=True, max_batch_size=4)
        name.change(shout, inputs=name, outputs=greeting, batch=True, max_batch_size=4)
    # Gradio 4 makes its stop event with asyncio.get_event_loop(), which raises (and Gradio keeps None) once an
    # earlier test's asyncio.run() has left the main thread without a loop
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    demo.queue().launch(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True)
    state = App(captured, demo.local_url, demo._queue)
    try:
        yield state
    finally:
        demo.close()
        asyncio.set_event_loop(None)
        loop.close()


def test_concurrent_questions_stay_in_their_own_traces(app: App) -> None:
    answers: dict[str, str] = {}
    start = threading.Barrier(3)

    def ask(conversation: str) -> None:
        client = app.client()
        start.wait()
        answers[conversation] = client.predict(conversation, f"question of {conversation}", api_name="/chat_fn")

    threads = [threading.Thread(target=ask, args=(f"conversation-{n}",)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(answers) == ["conversation-0", "conversation-1", "conversation-2"]
    events = app.events("chat_fn")
    assert len(events) == 3 and len({e.context.trace_id for e in events}) == 3
    overlapping = sorted(events, key=lambda e: e.start_time)
    assert overlapping[0].end_time > overlapping[-1].start_time, "the questions did not run at the same time"
    for event in events:
        conversation = event.attributes["gen_ai.conversation.id"]
        spans = app.trace(event)
        assert event.parent is None
        assert [s.name for s in spans].count("invoke_workflow FullQAPipeline") == 1
        assert {s.attributes["gen_ai.conversation.id"] for s in spans} == {conversation}
        assert {s.attributes["session.id"] for s in spans} == {event.attributes["session.id"]}  # each browser's
        assert "chat slow-40" in [s.name for s in spans]


def test_each_event_of_a_batch_keeps_its_own_trace(app: App) -> None:
    first, jobs = app.batch("/greet", ["user-0", "user-1", "user-2"])
    assert sorted(job.result(timeout=60) for job in jobs) == ["hello user-0", "hello user-1", "hello user-2"]
    assert first.result(timeout=60) == "hello first"
    assert [sorted(names) for names in app.batches] == [["first"], ["user-0", "user-1", "user-2"]]

    events = app.events("greet")
    assert len(events) == 4 and len({e.context.trace_id for e in events}) == 4  # one trace per user
    assert len({e.attributes["session.id"] for e in events}) == 4
    (batch,) = [s for s in app.captured.spans() if s.name == "gradio greet batch"]
    batched = [e for e in events if e.links]
    assert len(batched) == 3 and all([link.context for link in e.links] == [batch.context] for e in batched)
    assert sorted(link.context.span_id for link in batch.links) == sorted(e.context.span_id for e in batched)
    assert batch.attributes["kotaemon.app.event.batch_size"] == 3 and batch.parent is None
    assert all(app.trace(e) == [e] for e in batched)  # no user's trace holds the call's work...
    assert [s.name for s in app.trace(batch) if s is not batch] == ["chat slow-40"]  # ...the call's trace does
    assert all(e.attributes["kotaemon.app.event.status"] == "success" for e in events)


def test_a_failed_batch_fails_each_of_its_events(app: App) -> None:
    first, jobs = app.batch("/shout", ["ann", "bob"])
    for job in jobs:
        with pytest.raises(Exception, match="error"):
            job.result(timeout=60)
    assert first.result(timeout=60) == "FIRST"
    (batch,) = [s for s in app.captured.spans() if s.name == "gradio shout batch"]
    failed = [e for e in app.events("shout") if e.links]
    assert len(failed) == 2
    for span in (batch, *failed):
        assert span.attributes["kotaemon.app.event.status"] == "failed"
        assert span.attributes["error.type"] == "ValueError"
        assert span.status.description == "ValueError: cannot shout to [REDACTED:email]"  # user data: redacted


def test_a_failed_event_is_marked_as_failed(app: App) -> None:
    with pytest.raises(Exception, match="error"):
        app.client().predict("why?", api_name="/fail_fn")
    (event,) = app.events("fail_fn")
    assert event.status.status_code.name == "ERROR"
    assert event.status.description == "ValueError: no answer"  # what the function raised, which Gradio caught
    assert event.attributes["kotaemon.app.event.status"] == "failed"
    assert event.attributes["error.type"] == "ValueError"


def test_a_chain_without_a_question_links_each_event_to_the_one_before(app: App) -> None:
    client = app.client()
    for api_name in ("/upload_started", "/index_files", "/list_files"):
        client.predict(api_name=api_name)
    (started,) = app.events("upload_started")
    (indexed,) = app.events("index_files")
    (listed,) = app.events("list_files")
    assert [link.context.span_id for link in indexed.links] == [started.context.span_id]
    assert [link.context.span_id for link in listed.links] == [indexed.context.span_id]


def test_uninstrument_restores_the_queue(instrument: Callable[..., Captured]) -> None:
    queue, event, blocks = gradio.queueing.Queue, gradio.queueing.Event, gradio.blocks.Blocks
    original = (queue.__dict__["process_events"], event.__dict__["__init__"], blocks.__dict__["process_api"])
    instrument()
    assert isinstance(queue.__dict__["process_events"], wrapt.FunctionWrapper)
    assert isinstance(event.__dict__["__init__"], wrapt.FunctionWrapper)
    assert isinstance(blocks.__dict__["process_api"], wrapt.FunctionWrapper)
    KotaemonInstrumentor().uninstrument()
    assert (queue.__dict__["process_events"], event.__dict__["__init__"], blocks.__dict__["process_api"]) == original
