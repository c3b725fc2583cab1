"""Secrets and personal data planted everywhere never reach any exported span, event, metric or log record."""

from __future__ import annotations

import pytest

from tests.kotaemon_standin import environment
from tests.support.e2e import run_instrumented
from tests.support.openai_server import OpenAIServer
from tests.support.otlp_receiver import OtlpReceiver

PLANTED = (
    "PLANTEDclientKEY",
    "PLANTEDpromptKEY",
    "PLANTEDheaderKEY",
    "PLANTEDheaderTOKEN",
    "4111 1111 1111 1111",
    "planted.person@example.com",
    "415-555-0199",
    "PlantedPassw0rd",
    "PlantedUrlPass",
    "c2lnbmF0dXJlc2VjcmV0",
)


@pytest.mark.parametrize("content", ["no_content", "span_and_event"])
def test_nothing_planted_is_exported(content: str) -> None:
    env = {
        **environment(),
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": content,
        "OTEL_PYTHON_LOG_AUTO_INSTRUMENTATION": "true",  # export the app's logs too
        "OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED": "true",  # (the same, on SDK 1.27)
    }
    with OpenAIServer() as server, OtlpReceiver() as receiver:
        run_instrumented("secrets_app.py", server.base_url, receiver=receiver, base_url=server.base_url, env=env)
        exported = repr(receiver.spans) + repr(receiver.points) + repr(receiver.logs)
        spans = receiver.spans
        names = {s.name for s in spans}
    # the run did trace every layer, and with content on it did capture (redacted) content
    assert {"chat s-openai", "execute_tool lookup", "retrieval Leaky", "chat s-langchain", "chat s-kotaemon"} <= names
    assert "execute_tool kotaemon_lookup" in names
    # the failures whose messages carry the secrets are on their spans, redacted (content capture or not)
    failed = {s.name: s for s in spans if s.is_error}
    assert {"execute_tool failing_lookup", "execute_tool soft_lookup", "execute_tool kotaemon_failing_lookup"} <= set(
        failed
    )
    for name in ("execute_tool failing_lookup", "execute_tool kotaemon_failing_lookup"):
        assert "no customer for key [REDACTED:api_key] card [REDACTED:card]" in failed[name].status_message
    assert "lookup failed for key [REDACTED:api_key]" in failed["execute_tool soft_lookup"].status_message
    assert receiver.logs  # the app's own log records were exported
    if content != "no_content":
        assert "[REDACTED:card]" in exported and "[REDACTED:email]" in exported
    leaked = [secret for secret in PLANTED if secret in exported]
    assert leaked == []
