"""An app that makes bursts on command: `spans N` on standard input makes N spans, `logs N` N log records; it prints
`done` after each and exits at the end of its input."""

import logging
import sys

from opentelemetry import trace

handler = logging.StreamHandler(sys.stderr)  # what an app's log setup shows: warnings, the SDK's included
handler.setLevel(logging.WARNING)
logging.getLogger().addHandler(handler)
app_log = logging.getLogger("burst")
app_log.setLevel(logging.INFO)
tracer = trace.get_tracer("burst")

for line in sys.stdin:
    kind, count = line.split()
    for index in range(int(count)):
        if kind == "spans":
            with tracer.start_as_current_span(f"span {index}"):
                pass
        else:
            app_log.info("record %d", index)
    print("done", flush=True)
