"""Traces that cross two processes and their threads, for the Collector tier test.

Usage: tier_app.py upstream BASE_URL KIND=COUNT[,KIND=COUNT...]   (kinds: plain, error, slow, debug)
       tier_app.py downstream BASE_URL                           (continues the traces read from stdin)

Upstream starts each trace (a request span, one model call in a worker thread and one in its own thread; `error`
makes the worker's call fail, `debug` sets the baggage kotaemon.debug=true) and prints one JSON line per trace with
its traceparent and the time. Downstream reads those lines, continues each trace in a thread pool (a span and one
model call; `slow` asks the model server to take 1.6 s) and prints `done N` at the end of its input.
"""

import contextlib
import json
import random
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import openai
from opentelemetry import baggage, context, trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

ROLE, BASE_URL = sys.argv[1], sys.argv[2]
client = openai.OpenAI(base_url=BASE_URL, api_key="sk-tier", max_retries=0)
tracer = trace.get_tracer("tier-app")
propagator = TraceContextTextMapPropagator()


def chat(model):
    with contextlib.suppress(openai.InternalServerError):  # the error is on the span
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])


def upstream(plan):
    kinds = [kind for part in plan.split(",") for kind, _, count in [part.partition("=")] for _ in range(int(count))]
    random.shuffle(kinds)
    with ThreadPoolExecutor(4) as pool:
        for kind in kinds:
            token = context.attach(baggage.set_baggage("kotaemon.debug", "true")) if kind == "debug" else None
            with tracer.start_as_current_span(f"request {kind}"):
                worker = pool.submit(chat, "error-500" if kind == "error" else "tier-worker")
                chat("tier-main")
                worker.result()
                carrier = {}
                propagator.inject(carrier)
            if token is not None:
                context.detach(token)
            print(json.dumps({"kind": kind, "traceparent": carrier["traceparent"], "time": time.time()}), flush=True)
            time.sleep(0.02)  # pacing the load


def downstream():
    def continue_trace(line):
        item = json.loads(line)
        parent = propagator.extract({"traceparent": item["traceparent"]})
        with tracer.start_as_current_span(f"downstream {item['kind']}", context=parent, kind=trace.SpanKind.SERVER):
            chat("slow-1600" if item["kind"] == "slow" else "tier-downstream")

    with ThreadPoolExecutor(8) as pool:
        done = list(pool.map(continue_trace, iter(sys.stdin.readline, "")))
    print(f"done {len(done)}", flush=True)


if ROLE == "upstream":
    upstream(sys.argv[3])
else:
    downstream()
