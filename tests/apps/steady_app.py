"""An app with steady traffic: a chat call every 1/RATE seconds (each its own trace, one model, call `n` marked by
`seed=n`, a span attribute that no metric carries), each followed by a log record `answered <n>` at INFO (exported
when log export is on; otherwise it goes nowhere).

On standard input: `mark` prints the calls so far and, for the calls since the last mark, the median, 99th percentile
and slowest call, the longest garbage collection pause, how many full collections (generation 2) ran and the slowest
call that held none; an empty line (or end of input) ends it, printing how many calls it made and its slowest call."""

import gc
import logging
import sys
import threading
import time

import openai

RATE = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0

client = openai.OpenAI()
log = logging.getLogger("steady_app")
log.setLevel(logging.INFO)
stop = threading.Event()
marks: list[threading.Event] = []
calls, slowest = 0, 0.0
since_mark: list[float] = []
gc_started, longest_gc = 0.0, 0.0
full_collections, slowest_without_full = 0, 0.0


def time_gc(phase: str, info: dict[str, int]) -> None:
    global gc_started, longest_gc, full_collections
    if phase == "start":
        gc_started = time.monotonic()
        full_collections += info["generation"] == 2
    else:
        longest_gc = max(longest_gc, time.monotonic() - gc_started)


def read_commands() -> None:
    for line in sys.stdin:
        if line.strip() != "mark":
            break
        marked = threading.Event()
        marks.append(marked)
        marked.wait()
    stop.set()


def percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(int(fraction * len(ordered)), len(ordered) - 1)] if ordered else 0.0


gc.callbacks.append(time_gc)
threading.Thread(target=read_commands, daemon=True).start()
print("app started", flush=True)
next_call = time.monotonic()
while not stop.is_set():
    started, full_before = time.monotonic(), full_collections
    client.chat.completions.create(model="m-steady", seed=calls, messages=[{"role": "user", "content": "hi"}])
    took = time.monotonic() - started
    log.info("answered %d", calls)
    slowest = max(slowest, took)
    if full_collections == full_before:
        slowest_without_full = max(slowest_without_full, took)
    since_mark.append(took)
    calls += 1
    while marks:
        ordered = sorted(since_mark)
        print(
            f"mark: {calls} calls, slowest {percentile(ordered, 1.0):.4f} s, p50 {percentile(ordered, 0.5):.4f} s, "
            f"p99 {percentile(ordered, 0.99):.4f} s, longest gc {longest_gc:.4f} s, full gcs {full_collections}, "
            f"slowest without a full gc {slowest_without_full:.4f} s",
            flush=True,
        )
        since_mark, longest_gc, full_collections, slowest_without_full = [], 0.0, 0, 0.0
        marks.pop(0).set()
    next_call += 1 / RATE
    stop.wait(max(next_call - time.monotonic(), 0.0))
print(f"app done: {calls} calls, slowest {slowest:.4f} s", flush=True)
