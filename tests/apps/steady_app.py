"""An app with steady traffic: a chat call every 1/RATE seconds (each its own trace, model `m-<n>`).

On standard input: `mark` prints the calls so far and the slowest call since the last mark; an empty line (or end of
input) ends it, printing how many calls it made and its slowest call."""

import sys
import threading
import time

import openai

RATE = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0

client = openai.OpenAI()
stop = threading.Event()
marks: list[threading.Event] = []
calls, slowest, slowest_since_mark = 0, 0.0, 0.0


def read_commands() -> None:
    for line in sys.stdin:
        if line.strip() != "mark":
            break
        marked = threading.Event()
        marks.append(marked)
        marked.wait()
    stop.set()


threading.Thread(target=read_commands, daemon=True).start()
print("app started", flush=True)
next_call = time.monotonic()
while not stop.is_set():
    started = time.monotonic()
    client.chat.completions.create(model=f"m-{calls}", messages=[{"role": "user", "content": "hi"}])
    took = time.monotonic() - started
    slowest, slowest_since_mark = max(slowest, took), max(slowest_since_mark, took)
    calls += 1
    while marks:
        print(f"mark: {calls} calls, slowest {slowest_since_mark:.4f} s", flush=True)
        slowest_since_mark = 0.0
        marks.pop(0).set()
    next_call += 1 / RATE
    stop.wait(max(next_call - time.monotonic(), 0.0))
print(f"app done: {calls} calls, slowest {slowest:.4f} s", flush=True)
