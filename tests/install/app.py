"""The app an install is tried with, under `opentelemetry-instrument`: a request span and one from a thread pool."""

from concurrent.futures import ThreadPoolExecutor

from opentelemetry import trace

tracer = trace.get_tracer("install-check")
with tracer.start_as_current_span("request"), ThreadPoolExecutor(2) as pool:
    pool.submit(lambda: tracer.start_span("pooled work").end()).result()
print("app done")
