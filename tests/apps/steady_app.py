"""An app with steady traffic: a chat call every 1/RATE seconds (each its own trace, model `m-<n>`) until a line
arrives on standard input; then it prints how many calls it made and its slowest call, and exits."""

import sys
import threading
import time

import openai

RATE = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0

client = openai.OpenAI()
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.readline(), stop.set()), daemon=True).start()
calls, slowest, next_call = 0, 0.0, time.monotonic()
print("app started", flush=True)
while not stop.is_set():
    started = time.monotonic()
    client.chat.completions.create(model=f"m-{calls}", messages=[{"role": "user", "content": "hi"}])
    slowest = max(slowest, time.monotonic() - started)
    calls += 1
    next_call += 1 / RATE
    stop.wait(max(next_call - time.monotonic(), 0.0))
print(f"app done: {calls} calls, slowest {slowest:.4f} s", flush=True)
