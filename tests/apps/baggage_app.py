"""An app whose request handler received W3C baggage from upstream (as a propagated `baggage` header would set).

Only the OpenTelemetry API is used, to stand in for that incoming header; the OpenAI calls are unchanged.
"""

import openai
from opentelemetry import baggage, context

client = openai.OpenAI()


def handle(entries):
    ctx = context.get_current()
    for key, value in entries.items():
        ctx = baggage.set_baggage(key, value, ctx)
    token = context.attach(ctx)
    try:
        client.chat.completions.create(
            model=entries.get("kotaemon.variant", "m-plain"), messages=[{"role": "user", "content": "hi"}]
        )
    finally:
        context.detach(token)


handle({})  # an ordinary request: left to the sampler
handle(
    {
        "kotaemon.debug": "true",
        "session.id": "s-42",
        "user.id": "alice@example.com",
        "gen_ai.conversation.id": "conv-7",
        "kotaemon.variant": "m-variant-b",
        "unrelated": "not copied",
    }
)
print("app done")
