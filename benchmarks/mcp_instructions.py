"""Instructions per MCP tool call that the instrumentation adds, counted under valgrind's callgrind.

A client session and a FastMCP server talk over memory streams in one process (mcp 1.x, as Kotaemon pins it), so
one `tools/call` costs the client side (span or merge, context in `params._meta`) and the server side (context read
back, server span) together. Configurations: `bare` (SDK set up, nothing instrumented), `bare-span` (one manual
CLIENT span with five attributes around each call: the unit), `ours`. Each worker makes `--warmup` unmeasured calls,
then `--calls` calls and a flush of every provider between two callgrind dumps; export goes over OTLP/HTTP to the
benchmark's sink, in its own process.

    make bench-mcp-instructions BENCH_ARGS="--calls 200"

Needs valgrind and an environment with mcp 1.x (the lock one). Writes `benchmarks/mcp_instructions.md`.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import sys
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import overhead  # the benchmark's own module, next to this file
from instructions import count_window

RESULTS = overhead.REPO / "benchmarks" / "mcp_instructions.md"
CONFIGS = ("bare", "bare-span", "ours")


# --------------------------------------------------------------------------------------------------- worker side


def serve(config: str, endpoint: str, warmup: int) -> None:
    """Answer `run N` (make N tool calls, flush, answer `done`) on standard input until it ends."""
    pipeline = overhead.configure_sdk(endpoint, True, "mcp-benchmark")
    if config == "ours":
        from opentelemetry_instrumentation_kotaemon import KotaemonInstrumentor

        KotaemonInstrumentor().instrument()
    from mcp.server.fastmcp import FastMCP
    from mcp.shared.memory import create_connected_server_and_client_session
    from opentelemetry import trace
    from opentelemetry.trace import SpanKind

    server = FastMCP("benchmark")
    server.add_tool(lambda a, b: a + b, name="add", description="Adds two numbers.")
    tracer = trace.get_tracer("mcp-benchmark")
    attributes = {
        "mcp.method.name": "tools/call",
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "add",
        "network.transport": "pipe",
        "jsonrpc.request.id": "1",
    }

    async def main() -> None:
        async with create_connected_server_and_client_session(server._mcp_server) as session:

            async def call() -> None:
                if config == "bare-span":
                    with tracer.start_as_current_span("tools/call add", kind=SpanKind.CLIENT, attributes=attributes):
                        await session.call_tool("add", {"a": 1, "b": 2})
                else:
                    await session.call_tool("add", {"a": 1, "b": 2})

            for _ in range(warmup):
                await call()
            pipeline.flush()
            print("ready", flush=True)
            for line in sys.stdin:
                count = int(line.split()[1])
                for _ in range(count):
                    await call()
                pipeline.flush()
                print("done", flush=True)

    asyncio.run(main())
    pipeline.shutdown()


# --------------------------------------------------------------------------------------------------- parent side


def measure(config: str, sink: overhead.Service, args: argparse.Namespace) -> float:
    """Instructions per tool call in one configuration's worker, exporter threads included."""
    command = [sys.executable, __file__, "worker", config, sink.address, str(args.warmup)]
    return count_window(command, f"run {args.calls}", config, timeout=600) / args.calls


def main(argv: list[str]) -> None:
    if argv[:1] == ["worker"]:
        serve(argv[1], argv[2], int(argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=50)
    args = parser.parse_args(argv)
    sink = overhead.Service("-m", "benchmarks.otlp_sink")
    try:
        figures = {config: measure(config, sink, args) for config in CONFIGS}
    finally:
        sink.stop()
    bare, unit = figures["bare"], figures["bare-span"] - figures["bare"]
    lines = [
        "# Instructions per MCP tool call",
        "",
        f"`python benchmarks/mcp_instructions.py --calls {args.calls}`: Python {platform.python_version()}, "
        f"mcp {metadata.version('mcp')}, opentelemetry-sdk {metadata.version('opentelemetry-sdk')}; client and "
        "server in one process over memory streams, so `ours` pays for both sides of each call.",
        "",
        "| Configuration | Instructions per call | Added to bare | In bare spans |",
        "|---|---|---|---|",
    ]
    for config in CONFIGS:
        added = figures[config] - bare
        lines.append(f"| {config} | {figures[config]:,.0f} | {added:,.0f} | {added / unit:.1f} |")
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1:])
