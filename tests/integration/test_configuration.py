"""Context taken from baggage onto the spans of real client calls."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import openai
from opentelemetry import baggage, context

from tests.conftest import Captured
from tests.support.openai_server import OpenAIServer

Instrument = Callable[..., Captured]


def test_baggage_becomes_span_attributes(instrument: Instrument, openai_server: OpenAIServer) -> None:
    captured = instrument()
    client = openai.OpenAI(base_url=openai_server.base_url, api_key="k")
    ctx = baggage.set_baggage("session.id", "s-1")
    ctx = baggage.set_baggage("user.id", "bob", ctx)
    ctx = baggage.set_baggage("kotaemon.variant", "b", ctx)
    ctx = baggage.set_baggage("other", "x", ctx)
    token = context.attach(ctx)
    try:
        client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hi"}])
    finally:
        context.detach(token)
    attributes = captured.span().attributes
    assert attributes["session.id"] == "s-1"
    assert attributes["user.id"] == "sha256:" + hashlib.sha256(b"bob").hexdigest()[:16]
    assert attributes["kotaemon.variant"] == "b"
    assert "other" not in attributes
