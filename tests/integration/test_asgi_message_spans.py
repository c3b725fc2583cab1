"""The ASGI instrumentation's message spans (`http send` / `http receive`), left out by default: the real FastAPI
instrumentation on a real FastAPI app (Starlette's test client), the real SDK; and Gradio's data requests linked to
their events."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse
from fastapi.testclient import TestClient
from opentelemetry import trace
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased
from opentelemetry.trace import SpanKind

from opentelemetry_instrumentation_kotaemon import KotaemonInstrumentor
from opentelemetry_instrumentation_kotaemon.gradio.streams import DataStreams
from opentelemetry_instrumentation_kotaemon.patching import Patcher
from opentelemetry_instrumentation_kotaemon.sdk import asgi
from opentelemetry_instrumentation_kotaemon.sdk.asgi import DropAsgiMessageSpans
from opentelemetry_instrumentation_kotaemon.settings import OTEL_KOTAEMON_ASGI_MESSAGE_SPANS

MESSAGE_SPANS = ("http send", "http receive")
HAS_OPTION = "exclude_spans" in inspect.signature(FastAPIInstrumentor.instrument_app).parameters


def traced_app(provider: TracerProvider, **options: object) -> TestClient:
    """A FastAPI app that reads a body, then streams three chunks, making a span of its own after each step."""
    app = FastAPI()
    tracer = provider.get_tracer("app")

    @app.post("/answer")
    async def answer(request: Request) -> StreamingResponse:
        body = await request.body()  # an `http receive` message
        with tracer.start_as_current_span("after the body"):
            pass

        async def chunks() -> Iterator[bytes]:  # type: ignore[misc]
            for number in range(3):
                yield body + str(number).encode()  # an `http send` message each
                with tracer.start_as_current_span(f"after chunk {number}"):
                    pass

        return StreamingResponse(chunks())

    @app.post("/inside")
    async def inside(request: Request) -> dict[str, str]:
        with tracer.start_as_current_span("reading"):  # the body read under a span of the app's own
            body = await request.body()
        return {"body": body.decode()}

    @app.get("/plain")
    async def plain() -> dict[str, str]:
        with tracer.start_as_current_span("app http send", kind=SpanKind.INTERNAL):  # a span of the app's own
            pass
        return {"ok": "yes"}

    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider, **options)
    return TestClient(app)


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


def provider_with(sampler: object, exporter: InMemorySpanExporter) -> TracerProvider:
    provider = TracerProvider(sampler=sampler)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def message_spans(spans: list[ReadableSpan]) -> list[ReadableSpan]:
    return [s for s in spans if s.name.endswith(MESSAGE_SPANS)]


def test_message_spans_are_dropped_at_sampling_and_the_request_keeps_its_trace(
    exporter: InMemorySpanExporter,
) -> None:
    client = traced_app(provider_with(DropAsgiMessageSpans(ParentBased(ALWAYS_ON)), exporter))
    response = client.post("/answer", content=b"q")
    assert response.content == b"q0q1q2"
    spans = exporter.get_finished_spans()
    assert message_spans(list(spans)) == []
    (server,) = [s for s in spans if s.kind is SpanKind.SERVER]
    assert server.name == "POST /answer"
    assert server.attributes["http.status_code"] == 200  # set by the send path, whose span was dropped
    ours = sorted(s.name for s in spans if s.instrumentation_scope.name == "app")
    assert ours == ["after chunk 0", "after chunk 1", "after chunk 2", "after the body"]
    for span in spans:  # the spans after a dropped one stay in the request's sampled trace, under its server span
        assert span.context.trace_id == server.context.trace_id and span.context.trace_flags.sampled
        if span is not server:
            assert span.parent.span_id == server.context.span_id


def test_only_the_asgi_instrumentation_s_message_spans_are_dropped(exporter: InMemorySpanExporter) -> None:
    provider = provider_with(DropAsgiMessageSpans(ParentBased(ALWAYS_ON)), exporter)
    client = traced_app(provider)
    assert client.get("/plain").json() == {"ok": "yes"}
    tracer = provider.get_tracer("app")
    elsewhere = tracer.start_span("GET /elsewhere", kind=SpanKind.SERVER)  # a server span of another library
    with trace.use_span(elsewhere, end_on_exit=True), tracer.start_as_current_span("GET /elsewhere http send"):
        pass
    with tracer.start_as_current_span("queue http receive"):  # no parent
        pass
    with tracer.start_as_current_span("GET /plain http send", kind=SpanKind.CLIENT):  # not INTERNAL
        pass
    names = sorted(s.name for s in exporter.get_finished_spans())
    # the app's own `app http send` under the ASGI server span is dropped: the rule is the name, the kind and the
    # parent, as the instrumentation makes its spans
    assert names == [
        "GET /elsewhere",
        "GET /elsewhere http send",
        "GET /plain",
        "GET /plain http send",
        "queue http receive",
    ]
    assert DropAsgiMessageSpans(ALWAYS_ON).get_description() == "DropAsgiMessageSpans{AlwaysOnSampler}"


class AskedNames(DropAsgiMessageSpans):
    """`DropAsgiMessageSpans` noting the name of every span it is asked about."""

    def __init__(self) -> None:
        super().__init__(ParentBased(ALWAYS_ON))
        self.names: list[str] = []

    def should_sample(self, parent_context: Any, trace_id: int, name: str, *args: Any, **kwargs: Any) -> Any:
        self.names.append(name)
        return super().should_sample(parent_context, trace_id, name, *args, **kwargs)


@pytest.fixture
def skipping() -> Iterator[None]:
    """The middleware's `__init__` wrapped as the Kotaemon instrumentor wraps it on releases without `exclude_spans`."""
    patcher = Patcher("asgi")
    patcher.patch(asgi.MIDDLEWARE_TARGETS)
    patcher.patch(asgi.MIDDLEWARE_TARGETS)  # wrapped once
    yield
    patcher.unpatch()


@pytest.mark.usefixtures("skipping")
def test_where_their_spans_would_be_dropped_the_middleware_does_not_start_them(
    exporter: InMemorySpanExporter,
) -> None:
    sampler = AskedNames()
    client = traced_app(provider_with(sampler, exporter))
    assert client.post("/answer", content=b"q").content == b"q0q1q2"
    assert [n for n in sampler.names if n.endswith(MESSAGE_SPANS)] == []  # no message span started at all
    spans = exporter.get_finished_spans()
    assert message_spans(list(spans)) == []
    (server,) = [s for s in spans if s.kind is SpanKind.SERVER]
    assert server.attributes["http.status_code"] == 200  # the send path still sets it
    assert server.end_time is not None
    ours = sorted(s.name for s in spans if s.instrumentation_scope.name == "app")
    assert ours == ["after chunk 0", "after chunk 1", "after chunk 2", "after the body"]
    for span in spans:
        if span is not server:
            assert span.parent.span_id == server.context.span_id
    # under a span of the app's own the sampler keeps the receive span, as it did before
    assert client.post("/inside", content=b"q").json() == {"body": "q"}
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert spans["POST /inside http receive"].parent.span_id == spans["reading"].context.span_id


@pytest.mark.usefixtures("skipping")
@pytest.mark.parametrize(("hook", "kept"), [("client_request_hook", "receive"), ("client_response_hook", "send")])
def test_a_hook_is_given_each_span_of_its_messages(exporter: InMemorySpanExporter, hook: str, kept: str) -> None:
    """With a `client_request_hook` the receive spans are started (and dropped by the sampler), with a
    `client_response_hook` the send spans; the others are skipped."""
    sampler = AskedNames()
    hooked: list[bool] = []

    def note(span: trace.Span, scope: object, message: object) -> None:
        hooked.append(span.get_span_context().is_valid)

    client = traced_app(provider_with(sampler, exporter), **{hook: note})
    assert client.post("/answer", content=b"q").content == b"q0q1q2"
    asked = {n.rpartition(" ")[2] for n in sampler.names if n.endswith(MESSAGE_SPANS)}
    assert asked == {kept}
    assert hooked and all(hooked)  # the hook saw each span the sampler dropped, as before
    assert message_spans(list(exporter.get_finished_spans())) == []


def test_the_instrumentor_wraps_the_middleware_only_where_spans_are_dropped_and_unwraps_it(
    instrument: Callable[..., Any],
) -> None:
    original = OpenTelemetryMiddleware.__dict__["__init__"]
    instrument(**{OTEL_KOTAEMON_ASGI_MESSAGE_SPANS: "true"})
    assert OpenTelemetryMiddleware.__dict__["__init__"] is original  # message spans wanted
    KotaemonInstrumentor().uninstrument()
    instrument()
    wrapped = OpenTelemetryMiddleware.__dict__["__init__"] is not original
    assert wrapped is asgi.drops_at_sampling() is not HAS_OPTION
    KotaemonInstrumentor().uninstrument()
    assert OpenTelemetryMiddleware.__dict__["__init__"] is original


def test_without_our_sampler_the_instrumentation_makes_them(exporter: InMemorySpanExporter) -> None:
    """What the sampler prevents (the test above would pass with an instrumentation that made none)."""
    client = traced_app(provider_with(ParentBased(ALWAYS_ON), exporter))
    client.post("/answer", content=b"q")
    assert len(message_spans(list(exporter.get_finished_spans()))) >= 5  # a receive, a start and four body sends


@pytest.mark.skipif(not HAS_OPTION, reason="this FastAPI instrumentation has no exclude_spans")
def test_the_option_the_distro_passes_leaves_them_out(
    exporter: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(OTEL_KOTAEMON_ASGI_MESSAGE_SPANS, raising=False)
    options = asgi.instrumentor_options("fastapi", FastAPIInstrumentor, {})
    assert options["exclude_spans"] == ["receive", "send"]
    del options["server_request_hook"]
    client = traced_app(provider_with(ParentBased(ALWAYS_ON), exporter), **options)
    client.post("/answer", content=b"q")
    spans = exporter.get_finished_spans()
    assert message_spans(list(spans)) == [] and "POST /answer" in [s.name for s in spans]


def test_where_each_way_applies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(OTEL_KOTAEMON_ASGI_MESSAGE_SPANS, raising=False)
    assert asgi.drops_at_sampling() is not HAS_OPTION
    options = asgi.instrumentor_options("fastapi", FastAPIInstrumentor, {})
    assert ("exclude_spans" in options) is HAS_OPTION
    assert callable(options["server_request_hook"])
    assert asgi.instrumentor_options("requests", FastAPIInstrumentor, {}) == {}
    provider = TracerProvider()
    asgi.drop_message_spans(provider)
    assert isinstance(provider.sampler, DropAsgiMessageSpans) is not HAS_OPTION


def test_the_setting_brings_them_back(exporter: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(OTEL_KOTAEMON_ASGI_MESSAGE_SPANS, "true")
    assert not asgi.drops_at_sampling()
    options = asgi.instrumentor_options("fastapi", FastAPIInstrumentor, {})
    assert "exclude_spans" not in options
    provider = provider_with(ParentBased(ALWAYS_ON), exporter)
    asgi.drop_message_spans(provider)
    assert not isinstance(provider.sampler, DropAsgiMessageSpans)
    del options["server_request_hook"]
    traced_app(provider, **options).post("/answer", content=b"q")
    assert message_spans(list(exporter.get_finished_spans()))


class _Enabled:
    enabled = True


def test_a_data_request_and_the_events_of_its_session_link_to_each_other(exporter: InMemorySpanExporter) -> None:
    provider = provider_with(ALWAYS_ON, exporter)
    streams = DataStreams()
    streams.telemetry = _Enabled()  # type: ignore[assignment]
    seen: list[trace.Span] = []

    def hook(span: trace.Span, scope: dict[str, object]) -> None:
        seen.append(span)
        streams.request_started(span, scope)

    app = FastAPI()
    tracer = provider.get_tracer("events")
    events: dict[str, trace.Span] = {}

    @app.get("/queue/data")
    async def data(session_hash: str) -> dict[str, str]:
        events["during"] = tracer.start_span("gradio during")  # an event processed while the request is open
        streams.event_started(session_hash, events["during"])
        return {"session": session_hash}

    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider, server_request_hook=hook)
    events["before"] = tracer.start_span("gradio before")  # processed before the request opened
    streams.event_started("abc", events["before"])
    other = tracer.start_span("gradio other session")
    streams.event_started("xyz", other)
    client = TestClient(app)
    assert client.get("/queue/data", params={"session_hash": "abc"}).json() == {"session": "abc"}
    client.get("/plain")
    for name in ("before", "during"):
        streams.event_ended("abc", events[name])
        events[name].end()
    streams.event_ended("xyz", other)
    other.end()
    after = tracer.start_span("gradio after")  # the request has ended: nothing to link
    streams.event_started("abc", after)
    streams.event_ended("abc", after)
    after.end()
    spans = {s.name: s for s in exporter.get_finished_spans()}
    request = spans["GET /queue/data"]
    assert len(seen) == 2  # the hook sees every request, notes only the data ones
    assert {link.context.span_id for link in request.links} == {
        spans["gradio before"].context.span_id,
        spans["gradio during"].context.span_id,
    }
    for name in ("gradio before", "gradio during"):
        assert [link.context.span_id for link in spans[name].links] == [request.context.span_id]
    assert list(spans["gradio other session"].links) == []
    assert list(spans["gradio after"].links) == []
    assert streams._events == {}  # nothing kept once the events ended
