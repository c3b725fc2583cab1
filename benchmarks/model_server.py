"""The test suite's OpenAI-compatible server for the benchmark, with every streamed answer sent in one write.

The test server flushes each server-sent event on its own. How many of them the client then finds per socket read
depends on how far ahead the server is, so the client's CPU per streamed call would change with the load of the
machine and with the speed of the client itself (a slower, instrumented client reads more chunks per read and
pays less). Sending the whole stream at once makes every configuration read it the same way; the client still
parses and yields each chunk on its own, which is what instrumentation pays per chunk.

Run as `python -m benchmarks.model_server` from the repository root: it prints its base URL, then serves until
its standard input closes.
"""

from __future__ import annotations

import sys
import threading

from tests.support.openai_server import OpenAIServer, _Handler


class _OneWriteHandler(_Handler):
    """Collects the chunks of a streamed answer and writes them with the terminating chunk."""

    _pending: list[bytes] | None = None

    def _chunk(self, data: bytes) -> None:
        if self._pending is None:
            self._pending = []
        self._pending.append(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        if not data:  # the terminating chunk: the answer is complete
            self.wfile.write(b"".join(self._pending))
            self.wfile.flush()
            self._pending = None


def main() -> None:
    server = OpenAIServer(0)
    server.RequestHandlerClass = _OneWriteHandler
    threading.Thread(target=server.serve_forever, name="model-server", daemon=True).start()
    print(server.base_url, flush=True)
    sys.stdin.read()  # until the benchmark closes our input
    server.shutdown()
    server.server_close()


if __name__ == "__main__":
    main()
