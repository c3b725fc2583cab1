"""Span links between a Gradio event and the `GET /queue/data` request that streams its messages to the browser.

The browser sends each event as `POST /queue/join` and reads what it sends back (progress, the streamed answer, the
result) over `GET /queue/data?session_hash=...`, a request of its own, open while its session has events pending. The
FastAPI instrumentation tells `DataStreams.request_started` when such a request starts (a `server_request_hook`, which
the distro passes when `opentelemetry-instrument` loads it). While both are open, an event of that session and the
request get a span link to each other: the question's trace points at the request that carried its answer to the
browser, and back. Spans are held weakly (streams) or until their event ends (events); sessions are bounded.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections import OrderedDict
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from opentelemetry.trace import Span

if TYPE_CHECKING:
    from ..core.telemetry import Telemetry

logger = logging.getLogger(__name__)

DATA_PATH = "/queue/data"
_SESSIONS = 1024
"""Browser sessions whose open data requests are remembered (oldest forgotten first)."""


def _session_hash(query_string: Any) -> str | None:
    if isinstance(query_string, bytes):
        query_string = query_string.decode("latin-1")
    if not isinstance(query_string, str) or "session_hash=" not in query_string:
        return None
    values = parse_qs(query_string).get("session_hash")
    return values[0] if values and values[0] else None


def _link(stream: Span, event: Span) -> None:
    """A link from each span to the other, while both are open."""
    if stream.is_recording() and event.is_recording():
        stream.add_link(event.get_span_context())
        event.add_link(stream.get_span_context())


class DataStreams:
    """The open data requests and the events being processed, by browser session."""

    def __init__(self) -> None:
        self.telemetry: Telemetry | None = None
        """The Gradio integration's telemetry; nothing is noted unless it is enabled."""
        self._streams: OrderedDict[str, list[weakref.ref[Span]]] = OrderedDict()
        self._events: dict[str, list[Span]] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.telemetry is not None and self.telemetry.enabled

    def request_started(self, span: Span, scope: dict[str, Any]) -> None:
        """A `server_request_hook`: note a data request's span by its session, link it to the session's events."""
        if not self.enabled:
            return
        try:
            if scope.get("type") != "http" or not str(scope.get("path", "")).endswith(DATA_PATH):
                return
            session = _session_hash(scope.get("query_string"))
            if session is None or not span.is_recording():
                return
            with self._lock:
                streams = [ref for ref in self._streams.pop(session, []) if _open(ref)]
                streams.append(weakref.ref(span))
                self._streams[session] = streams
                while len(self._streams) > _SESSIONS:
                    self._streams.popitem(last=False)
                events = list(self._events.get(session, ()))
            for event in events:
                _link(span, event)
        except Exception:
            logger.debug("could not note a Gradio data request", exc_info=True)

    def event_started(self, session: str, span: Span) -> None:
        """An event of `session` is processed under `span`: link it to the session's open data requests."""
        try:
            with self._lock:
                self._events.setdefault(session, []).append(span)
                refs = self._streams.get(session, ())
                streams = [stream for stream in (ref() for ref in refs) if stream is not None]
            for stream in streams:
                _link(stream, span)
        except Exception:
            logger.debug("could not link a Gradio event to its data request", exc_info=True)

    def event_ended(self, session: str, span: Span) -> None:
        with self._lock:
            events = self._events.get(session)
            if events is None:
                return
            if span in events:
                events.remove(span)
            if not events:
                del self._events[session]


def _open(ref: weakref.ref[Span]) -> bool:
    span = ref()
    return span is not None and span.is_recording()


DATA_STREAMS = DataStreams()
"""Shared by the Gradio integration (events) and the server instrumentation's hook (data requests)."""
