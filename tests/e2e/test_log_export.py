"""End to end: an app under `opentelemetry-instrument` with app log export on clears the root logger's handlers and
sets its logging up again (`basicConfig`, then `dictConfig`), as Kotaemon's proposed `setup_logging()` does; its
records keep arriving over OTLP, each once and redacted, and its own handlers print them as before."""

from __future__ import annotations

from tests.support.e2e import run_instrumented
from tests.support.otlp_receiver import OtlpReceiver

EXPORT = {"OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED": "true"}  # the SDK's switch, from 1.27 to 1.45


def app_records(receiver: OtlpReceiver) -> list[str]:
    """The bodies of the app's records (SDK 1.27 names no logger as their scope)."""
    return [str(record.body) for record in receiver.logs if str(record.body).startswith(("before ", "after "))]


def test_app_logs_are_exported_after_the_app_resets_its_logging() -> None:
    with OtlpReceiver() as receiver:
        result = run_instrumented("logging_reset_app.py", receiver=receiver, env=EXPORT)
        exported = app_records(receiver)
    assert exported == ["before the reset", "after clearing, order for [REDACTED:email]", "after dictConfig"]
    local = [line for line in result.stderr.splitlines() if line.startswith(("LOCAL ", "DICT "))]
    assert local == ["LOCAL after clearing, order for alice@example.com", "DICT after dictConfig"]
    # dictConfig flushes the kept handler under logging's lock: on SDKs before 1.35 that used to stall for 30 s
    assert "Timeout was exceeded in force_flush" not in result.stderr


def test_without_the_guard_export_stops_at_the_reset() -> None:
    """What happens without us (our logging integration off): the records after the reset are lost."""
    with OtlpReceiver() as receiver:
        run_instrumented(
            "logging_reset_app.py",
            receiver=receiver,
            env={**EXPORT, "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "logging"},
        )
        exported = app_records(receiver)
    assert exported == ["before the reset"]
