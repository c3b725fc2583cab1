"""`make demo`: run the example apps under `opentelemetry-instrument` and show what a backend would receive.

No API key, no network and no backend are needed: a local OpenAI-compatible server answers the apps, and a local
OTLP receiver collects what they export. Each trace is printed as an indented tree, followed by a metrics summary.
"""

from __future__ import annotations

from collections import defaultdict

from tests.kotaemon_standin import environment
from tests.kotaemon_standin.react_server import react_server
from tests.support.e2e import run_instrumented
from tests.support.otlp_receiver import OtlpReceiver, Point, Span

_KINDS = {1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
_SHOWN = (
    ("kotaemon.span.kind", "kind"),
    ("gen_ai.request.model", "model"),
    ("gen_ai.usage.input_tokens", "in"),
    ("gen_ai.usage.output_tokens", "out"),
    ("kotaemon.usage.input_tokens", "total in"),
    ("kotaemon.usage.output_tokens", "total out"),
    ("kotaemon.documents.count", "docs"),
    ("gen_ai.tool.name", "tool"),
    ("http.request.resend_count", "retries"),
    ("kotaemon.stream.chunk_count", "chunks"),
    ("kotaemon.stream.abandoned", "abandoned"),
    ("error.type", "error"),
)


def _describe(span: Span) -> str:
    millis = (span.end - span.start) / 1e6
    details = [f"{label}={span.attributes[key]}" for key, label in _SHOWN if key in span.attributes]
    status = "ERROR" if span.is_error else "ok"
    return f"{span.name}  [{_KINDS.get(span.kind, '?')}, {millis:.1f} ms, {status}]  " + " ".join(details)


def print_traces(spans: list[Span]) -> None:
    """Print every trace as an indented tree, children in start order."""
    by_trace: dict[str, list[Span]] = defaultdict(list)
    for span in spans:
        by_trace[span.trace_id].append(span)
    for trace_id, members in sorted(by_trace.items(), key=lambda item: min(s.start for s in item[1])):
        ids = {s.span_id for s in members}
        children: dict[str, list[Span]] = defaultdict(list)
        for span in members:
            children[span.parent_id if span.parent_id in ids else ""].append(span)
        print(f"trace {trace_id[:16]}  service={members[0].resource.get('service.name')}")
        _print_children(children, "", 1)


def _print_children(children: dict[str, list[Span]], parent: str, depth: int) -> None:
    for child in sorted(children[parent], key=lambda span: span.start):
        print("  " * depth + "└─ " + _describe(child))
        _print_children(children, child.span_id, depth + 1)


def print_metrics(points: list[Point]) -> None:
    """Print one line per metric and model (or component): counts and sums."""
    print("\nmetrics")
    rows: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for point in points:
        label = ", ".join(
            f"{k}={v}"
            for k, v in point.attributes.items()
            if k
            in ("gen_ai.request.model", "gen_ai.token.type", "kotaemon.component", "gen_ai.tool.name", "error.type")
        )
        row = rows[(f"{point.metric} [{point.unit}]", label)]
        row[0] += point.count if point.count is not None else (point.value or 0)
        row[1] += point.sum or 0
    for (metric, label), (count, total) in sorted(rows.items()):
        sums = f" sum={total:.4g}" if total else ""
        print(f"  {metric:<52} {label:<60} count={count:g}{sums}")


DEMOS = (
    ("an OpenAI client app", "openai_app.py", ()),
    ("a LangChain RAG chain, an agent with a tool, a fallback, a stream and an async chain", "langchain_app.py", ()),
    (
        "a Kotaemon RAG app (the test stand-in of Kotaemon on the real theflow): index, retrieve and re-rank, answer,"
        " stream with citations, a ReAct agent with a tool",
        "kotaemon_rag_app.py",
        ("{base_url}",),
    ),
)


def main() -> None:
    with react_server() as server:
        print(f"OpenAI-compatible demo server on {server.base_url}: no API key, no network, no backend needed.")
        for title, app, arguments in DEMOS:
            with OtlpReceiver() as receiver:
                print(f"\n=== {title}\n$ opentelemetry-instrument python tests/apps/{app}   (no OpenTelemetry code)\n")
                env = {"OTEL_SERVICE_NAME": "kotaemon-demo", **environment()}
                args = [a.format(base_url=server.base_url) for a in arguments]
                run_instrumented(app, *args, receiver=receiver, base_url=server.base_url, env=env)
                print_traces(receiver.spans)
                print_metrics(receiver.points)


if __name__ == "__main__":
    main()
