"""`make demo`: run the example apps under `opentelemetry-instrument` and show what a backend would receive.

No API key, no network and no backend are needed: a local OpenAI-compatible server answers the apps, and a local
OTLP receiver collects what they export. Each trace is printed as an indented tree, followed by a metrics summary
(the same printer as `opentelemetry-kotaemon view`).

`make demo DEMO_ARGS=--real` calls the OpenAI API instead, with the key in OPENAI_API_KEY and cheap models.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from opentelemetry_instrumentation_kotaemon.cli.view import print_metrics, print_traces
from tests.kotaemon_standin import environment
from tests.kotaemon_standin.react_server import react_server
from tests.support.e2e import run_instrumented
from tests.support.otlp_receiver import OtlpReceiver

REAL_CHAT_MODEL = "gpt-4o-mini"
REAL_EMBEDDING_MODEL = "text-embedding-3-small"


@dataclass(frozen=True)
class Example:
    title: str
    app: str
    arguments: tuple[str, ...] = ()  # `{base_url}` is replaced by the local server's URL
    real_arguments: tuple[str, ...] | None = None  # None: this example needs the local server


EXAMPLES = (
    Example(
        "an OpenAI client app",
        "openai_app.py",
        # without the scenarios that only the local server can play (errors, retries, a scripted tool call)
        real_arguments=("sync", "stream_full", "stream_abandoned", "stream_with", "embeddings", "responses", "async"),
    ),
    Example(
        "a LangChain RAG chain, an agent with a tool, a fallback, a stream and an async chain",
        "langchain_app.py",
        real_arguments=(),
    ),
    Example(
        "a Kotaemon RAG app (the test stand-in of Kotaemon on the real theflow): index, retrieve and re-rank, answer,"
        " stream with citations, a ReAct agent with a tool",
        "kotaemon_rag_app.py",
        arguments=("{base_url}",),
    ),
)


def show(example: Example, arguments: Sequence[str], base_url: str, env: dict[str, str]) -> None:
    """Run one example app under `opentelemetry-instrument` and print what it exported."""
    with OtlpReceiver() as receiver:
        shown = " ".join(("python", f"tests/apps/{example.app}", *arguments))
        print(f"\n=== {example.title}\n$ opentelemetry-instrument {shown}   (no OpenTelemetry code)\n")
        run_instrumented(example.app, *arguments, receiver=receiver, base_url=base_url, env=env)
        print_traces(receiver.spans)
        print_metrics(receiver.points)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--real",
        action="store_true",
        help=f"call the OpenAI API (needs OPENAI_API_KEY; {REAL_CHAT_MODEL}, {REAL_EMBEDDING_MODEL})",
    )
    real = parser.parse_args(argv).real
    env = {"OTEL_SERVICE_NAME": "kotaemon-demo", **environment()}
    if not real:
        with react_server() as server:
            print(f"OpenAI-compatible demo server on {server.base_url}: no API key, no network, no backend needed.")
            for example in EXAMPLES:
                arguments = [a.format(base_url=server.base_url) for a in example.arguments]
                show(example, arguments, server.base_url, env)
        return 0
    key = os.environ.get("OPENAI_API_KEY", "").strip()
    if not key:
        print("--real calls the OpenAI API and needs OPENAI_API_KEY, which is not set: nothing ran", file=sys.stderr)
        return 2
    env.update(OPENAI_API_KEY=key, APP_CHAT_MODEL=REAL_CHAT_MODEL, APP_EMBEDDING_MODEL=REAL_EMBEDDING_MODEL)
    print(f"Calling the OpenAI API ({REAL_CHAT_MODEL}, {REAL_EMBEDDING_MODEL}) with OPENAI_API_KEY: it costs a little.")
    for example in EXAMPLES:
        if example.real_arguments is None:
            print(f"\n=== {example.title}\nskipped with --real: it needs the local server's scripted answers")
        else:
            show(example, example.real_arguments, "", env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
