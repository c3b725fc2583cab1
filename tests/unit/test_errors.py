"""How a failed call is recorded on its span."""

from __future__ import annotations

from collections.abc import Callable

from opentelemetry_instrumentation_kotaemon.core.spans import ModelCall, ToolStep
from opentelemetry_instrumentation_kotaemon.core.telemetry import Telemetry
from opentelemetry_instrumentation_kotaemon.settings import Settings
from tests.conftest import Captured


def test_exception_events_leave_out_the_deprecated_escaped_flag(instrument: Callable[..., Captured]) -> None:
    captured = instrument()
    telemetry = Telemetry(Settings(), tracer_provider=captured.tracer_provider, meter_provider=captured.meter_provider)
    for scope in (
        telemetry.start_model_call(ModelCall(operation="chat", provider="openai", request_model="m")),
        telemetry.start_step(ToolStep(name="search")),
    ):
        assert scope is not None
        scope.finish(ValueError("boom"))
    spans = captured.spans()
    assert len(spans) == 2
    for span in spans:
        (event,) = span.events
        assert event.name == "exception"
        assert event.attributes is not None
        assert event.attributes["exception.type"] == "ValueError"
        assert "exception.escaped" not in event.attributes
