"""`make demo`: run the example apps under `opentelemetry-instrument` and show what a backend would receive.

No API key, no network and no backend are needed: a local OpenAI-compatible server answers the apps, and a local
OTLP receiver collects what they export. The Kotaemon RAG question comes first. Each trace is printed as a tree with a
timing bar per span, followed by one metrics table (the same printer as `opentelemetry-kotaemon view`).

`make demo DEMO_ARGS=--real` calls the OpenAI API instead, with the key in OPENAI_API_KEY and cheap models.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

from opentelemetry_instrumentation_kotaemon.cli.view import ExportedSpan, print_metrics, print_traces
from tests.kotaemon_standin import environment
from tests.kotaemon_standin.react_server import react_server
from tests.support.e2e import run_instrumented
from tests.support.openai_server import ASK_STREAM_USAGE
from tests.support.otlp_receiver import OtlpReceiver

REAL_CHAT_MODEL = "gpt-4o-mini"
REAL_EMBEDDING_MODEL = "text-embedding-3-small"


@dataclass(frozen=True)
class Example:
    title: str
    app: str  # under examples/
    arguments: tuple[str, ...] = ()  # `{base_url}` is replaced by the local server's URL
    real_arguments: tuple[str, ...] | None = None  # None: this example needs the local server
    headline: str = ""  # the root span of the trace shown first
    question: str = ""  # what that trace answers


EXAMPLES = (
    Example(
        "a Kotaemon RAG app (the test stand-in of Kotaemon on the real theflow): index, retrieve and re-rank, answer,"
        " stream with citations, a ReAct agent with a tool",
        "kotaemon_rag_app.py",
        arguments=("{base_url}",),
        headline="invoke_workflow RAGPipeline",
        question="What is the answer to everything?",
    ),
    Example(
        "a LangChain RAG chain, an agent with a tool, a fallback, a stream and an async chain",
        "langchain_app.py",
        real_arguments=(),
    ),
    Example(
        "an OpenAI client app: a tool call, a stream, embeddings, concurrent async calls",
        "openai_app.py",
        real_arguments=(),
    ),
)


def headline_first(spans: Sequence[ExportedSpan], root_name: str) -> tuple[list[ExportedSpan], list[ExportedSpan]]:
    """The spans of the first trace whose root is named `root_name`, and all the others."""
    ids = {span.span_id for span in spans}
    roots = [s for s in spans if s.name == root_name and s.parent_id not in ids]
    trace_id = min(roots, key=lambda span: span.start).trace_id if roots else None
    return [s for s in spans if s.trace_id == trace_id], [s for s in spans if s.trace_id != trace_id]


def show(example: Example, arguments: Sequence[str], base_url: str, env: dict[str, str]) -> None:
    """Run one example app under `opentelemetry-instrument` and print what it exported."""
    with OtlpReceiver() as receiver:
        app = f"examples/{example.app}"
        print(f"\n=== {example.title}\n$ opentelemetry-instrument python {' '.join((app, *arguments))}\n")
        run_instrumented(app, *arguments, receiver=receiver, base_url=base_url, env=env)
        first, others = headline_first(receiver.spans, example.headline)
        if first:
            print(f"The question {example.question!r} as one trace:")
            print_traces(first)
            print("\nThe rest of the run:")
        print_traces(others)
        print_metrics(receiver.points)


def show_web_app(base_url: str, env: dict[str, str]) -> None:
    """Run the ktem-like Gradio app, upload a file and ask one question over HTTP, and print the traces of ours."""
    from tests.support.gradio_app import QUIET, GradioApp, ask, upload

    print(
        "\n=== a ktem-like Gradio web app (the test stand-in's ktem pipelines): a file uploaded, one question asked"
        " over HTTP as the browser does\n$ opentelemetry-instrument python tests/apps/ktem_gradio_app.py"
        "   (no OpenTelemetry code; Gradio's FastAPI server instrumented too)\n"
    )
    with OtlpReceiver() as receiver, tempfile.TemporaryDirectory() as workdir, mock.patch.dict(os.environ, QUIET):
        notes = Path(workdir) / "notes.txt"
        notes.write_text("The answer to everything is 42. Paris is the capital of France.")
        app = GradioApp(receiver, base_url, Path(workdir), env)
        try:
            session = app.client()
            upload(session, notes)
            ask(session, "What is the answer?", [])
        finally:
            app.stop()
        ours = {s.trace_id for s in receiver.spans if s.name.startswith("gradio ")}
        print("(only the traces of the app's events; Gradio's other requests are traces of their own)")
        print_traces([s for s in receiver.spans if s.trace_id in ours])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m examples.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--real",
        action="store_true",
        help=f"call the OpenAI API (needs OPENAI_API_KEY; {REAL_CHAT_MODEL}, {REAL_EMBEDDING_MODEL})",
    )
    real = parser.parse_args(argv).real
    env = {"OTEL_SERVICE_NAME": "kotaemon-demo", **environment()}
    if not real:
        env.update(ASK_STREAM_USAGE)
        with react_server() as server:
            print(f"OpenAI-compatible demo server on {server.base_url}: no API key, no network, no backend needed.")
            print("Streams are asked for their usage as on api.openai.com (OTEL_KOTAEMON_OPENAI_STREAM_USAGE=always).")
            for example in EXAMPLES:
                arguments = [a.format(base_url=server.base_url) for a in example.arguments]
                show(example, arguments, server.base_url, env)
            show_web_app(server.base_url, env)
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
