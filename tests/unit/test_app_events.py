"""App events in the core (span, links, conversation and user passed down a chain) and the Gradio readers."""

from __future__ import annotations

import hashlib
import hmac
from types import SimpleNamespace

from opentelemetry import baggage
from opentelemetry import context as otel_context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from opentelemetry_instrumentation_kotaemon.core.spans import AppEvent, WorkflowStep
from opentelemetry_instrumentation_kotaemon.core.telemetry import Telemetry
from opentelemetry_instrumentation_kotaemon.gradio import extract
from opentelemetry_instrumentation_kotaemon.settings import Settings


def telemetry(**settings: object) -> tuple[Telemetry, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return Telemetry(Settings(**settings), tracer_provider=provider), exporter  # type: ignore[arg-type]


def event(name: str) -> AppEvent:
    return AppEvent(name=name, framework="gradio", function=name, session_id="s1", event_id=f"id-{name}")


def run_event(core: Telemetry, name: str, follows=None, conversation: str | None = None, user: str | None = None):
    scope = core.start_app_event(event(name), otel_context.Context(), follows)
    assert scope is not None
    token = scope.activate()
    try:
        if conversation or user:
            step = core.start_step(WorkflowStep(name="Reasoning", conversation_id=conversation, user_id=user))
            assert step is not None
            step.finish()
    finally:
        scope.deactivate(token)
    scope.status = "success"
    scope.finish()
    return scope


def test_a_chain_links_to_the_event_that_named_the_conversation_and_carries_it() -> None:
    core, exporter = telemetry()
    submit = run_event(core, "submit_msg")
    question = run_event(core, "chat_fn", follows=submit.trail(), conversation="c1", user="alice")
    preview = run_event(core, "lambda", follows=question.trail())
    rename = run_event(core, "check_and_suggest_name_conv", follows=preview.trail())
    spans = {s.name: s for s in exporter.get_finished_spans()}
    hashed = "sha256:" + hashlib.sha256(b"alice").hexdigest()[:16]
    chat = spans["gradio chat_fn"]
    assert [link.context for link in chat.links] == [spans["gradio submit_msg"].context]
    assert chat.attributes["gen_ai.conversation.id"] == "c1" and chat.attributes["user.id"] == hashed
    for name in ("gradio lambda", "gradio check_and_suggest_name_conv"):
        assert [link.context for link in spans[name].links] == [chat.context]  # the question, not the event before
        assert spans[name].attributes["gen_ai.conversation.id"] == "c1"
        assert spans[name].attributes["user.id"] == hashed
        assert spans[name].context.trace_id != chat.context.trace_id
    assert rename.identity == question.identity
    assert "gen_ai.conversation.id" not in spans["gradio submit_msg"].attributes


def test_the_user_id_is_hashed_as_on_the_baggage_path_unless_configured() -> None:
    core, exporter = telemetry(hash_user_id=False)
    run_event(core, "chat_fn", conversation="c1", user="alice")
    assert {s.attributes["user.id"] for s in exporter.get_finished_spans()} == {"alice"}


def test_a_hash_key_pseudonymises_the_user_id_keyed_on_both_paths() -> None:
    key = b"0123456789abcdef0123456789abcdef"
    core, exporter = telemetry(user_id_hash_key=key)
    run_event(core, "chat_fn", conversation="c1", user="alice")
    keyed = "hmac-sha256:" + hmac.new(key, b"alice", hashlib.sha256).hexdigest()[:16]
    assert {s.attributes["user.id"] for s in exporter.get_finished_spans()} == {keyed}
    assert core.context_attributes(baggage.set_baggage("user.id", "alice"))["user.id"] == keyed


def test_a_failed_event_is_an_error() -> None:
    core, exporter = telemetry()
    scope = core.start_app_event(event("chat_fn"), otel_context.Context())
    assert scope is not None
    scope.status = "failed"
    scope.finish()
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code.name == "ERROR" and span.attributes["error.type"] == "failed"


def test_gradio_readers_read_what_is_there_and_nothing_else() -> None:
    fns = {
        0: SimpleNamespace(trigger_after=None),
        1: SimpleNamespace(trigger_after=0),
        2: SimpleNamespace(trigger_after=1),
        7: SimpleNamespace(trigger_after=8),
        8: SimpleNamespace(trigger_after=7),
    }
    queue = SimpleNamespace(blocks=SimpleNamespace(fns=fns), event_analytics={"e1": {"status": "failed"}})
    chained = SimpleNamespace(fn=SimpleNamespace(_id=3, name="fn", api_name=None, trigger_after=2), _id="e1")
    assert extract.predecessors(queue, chained) == [2, 1, 0]
    cyclic = SimpleNamespace(fn=SimpleNamespace(trigger_after=7))
    assert extract.predecessors(queue, cyclic) == [7, 8]
    assert extract.predecessors(SimpleNamespace(), chained) == [2]
    assert extract.status(queue, chained) == "failed"
    assert extract.status(SimpleNamespace(), chained) is None
    record = extract.app_event(chained)
    assert record is not None and record.name == "fn" and record.session_id is None
    assert extract.app_event(SimpleNamespace()) is None
    assert extract.app_event(SimpleNamespace(fn=SimpleNamespace(name=None, api_name=None))) is None
