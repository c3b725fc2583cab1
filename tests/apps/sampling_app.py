"""Starts root spans at a steady pace and reports, once per window, how many of each name the sampler kept.

Usage: sampling_app.py SECONDS WINDOW_SECONDS NAME=PER_SECOND [NAME=PER_SECOND ...]
Each window prints one JSON line: {"end": unix time, "counts": {name: [started, sampled, kept by a lower bound]}}
(the last: roots tagged `sampler.type=lowerbound`). The spans come from the tracer provider opentelemetry-instrument
set up, so the sampler is whatever OTEL_TRACES_SAMPLER chose.
"""

import json
import sys
import time

from opentelemetry import trace

seconds, window = float(sys.argv[1]), float(sys.argv[2])
rates = {name: float(rate) for name, _, rate in (arg.partition("=") for arg in sys.argv[3:])}
tracer = trace.get_tracer("sampling-app")
next_due = {name: 0.0 for name in rates}  # seconds after start at which each name's next span is due

start = time.monotonic()
window_end = start + window
counts = {name: [0, 0, 0] for name in rates}
while True:
    name = min(next_due, key=next_due.__getitem__)
    if next_due[name] >= seconds:
        break
    wait = start + next_due[name] - time.monotonic()
    if wait > 0:
        time.sleep(wait)  # pacing the load, not timing a test
    next_due[name] += 1.0 / rates[name]
    with tracer.start_as_current_span(name) as span:
        counts[name][0] += 1
        counts[name][1] += span.is_recording()
        counts[name][2] += (getattr(span, "attributes", None) or {}).get("sampler.type") == "lowerbound"
    if time.monotonic() >= window_end:
        print(json.dumps({"end": time.time(), "counts": counts}), flush=True)
        counts = {name: [0, 0, 0] for name in rates}
        window_end += window
print(json.dumps({"end": time.time(), "counts": counts, "last": True}), flush=True)
