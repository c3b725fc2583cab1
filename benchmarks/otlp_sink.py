"""The benchmark's OTLP/HTTP receiver, run in its own process so that decoding what arrives costs the measured
process nothing.

Run as `python -m benchmarks.otlp_sink` from the repository root. It prints its endpoint on the first line, then
answers commands read from standard input, one a line:

- `stats`: one JSON line with the number of spans, metric points and log records received so far, and the spans
  counted by `service.name` and by instrumentation scope;
- `clear`: forget everything received (answers `ok`).

It stops at the end of its input.
"""

from __future__ import annotations

import json
import sys
from collections import Counter

from tests.support.otlp_receiver import OtlpReceiver


def stats(receiver: OtlpReceiver) -> dict[str, object]:
    """What the receiver holds, summed up."""
    with receiver._changed:  # the lock the receiver takes while it stores a request
        return {
            "spans": len(receiver.spans),
            "points": len(receiver.points),
            "logs": len(receiver.logs),
            "services": dict(Counter(str(span.resource.get("service.name")) for span in receiver.spans)),
            "span_scopes": dict(Counter(span.scope for span in receiver.spans)),
        }


def main() -> None:
    with OtlpReceiver() as receiver:
        print(receiver.endpoint, flush=True)
        for line in sys.stdin:
            command = line.strip()
            if command == "stats":
                print(json.dumps(stats(receiver)), flush=True)
            elif command == "clear":
                receiver.clear()
                print("ok", flush=True)


if __name__ == "__main__":
    main()
