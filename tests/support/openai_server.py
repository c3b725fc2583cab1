"""A small OpenAI-compatible HTTP server for tests and the demo, on 127.0.0.1, standard library only.

It answers `/v1/chat/completions`, `/v1/completions`, `/v1/embeddings` and `/v1/responses`, as JSON or as
server-sent events when `stream` is true. The model name picks special behaviour:

- `error-500`: HTTP 500 (with `x-should-retry: false`, so the client fails at once)
- `flaky-429`: HTTP 429 on the first attempt, success on the client's retry
- `slow-<ms>`: waits that many milliseconds before answering (and between stream chunks)
- `no-usage`: answers without a `usage` object
- `broken-stream`: a stream that stops after two chunks without ending properly (connection dropped)
- `odd-shape`: a chat answer with no `choices` and no `usage`, and fields the client does not know
- `cached-tier`: a chat answer whose usage reports cache reads and writes, from the `priority` service tier

A chat request with `tools`, whose last message is not a tool result, gets a tool call back.

Azure OpenAI's URLs are answered too (`/openai/deployments/{deployment}/chat/completions?api-version=...`). A strict
server (`OpenAIServer(strict=True)`) refuses, as Azure OpenAI does, any argument it does not know with HTTP 400
`Unrecognized request argument supplied: <name>`. It knows the arguments of the OpenAI API (`KNOWN_ARGUMENTS`);
`stream_options` only on an Azure API version from `STREAM_OPTIONS_SINCE`: an Azure resource on an older version, and
on `/v1` an OpenAI-compatible server that does not know the argument.
Run it alone with `python -m tests.support.openai_server [port]`.
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import struct
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

REPLY = "The answer is 42, as the retrieved documents say."
TOOL_ARGUMENTS = '{"city": "Paris", "unit": "celsius"}'
EMBEDDING_DIMENSIONS = 8
CREATED = 1_700_000_000


ASK_STREAM_USAGE = {"OTEL_KOTAEMON_OPENAI_STREAM_USAGE": "always"}
"""The setting under which streams against this server are asked for their usage, as on api.openai.com (by default
only endpoints known to accept the question are asked, and this server on 127.0.0.1 is none of them)."""
STREAM_OPTIONS_SINCE = "2024-09-01"
"""The first Azure OpenAI API version a strict server accepts `stream_options` on."""
_BASE_ARGUMENTS = frozenset({"model", "user", "stream", "stream_options"})
KNOWN_ARGUMENTS = {
    "chat/completions": _BASE_ARGUMENTS
    | {
        "messages", "audio", "frequency_penalty", "function_call", "functions", "logit_bias", "logprobs",
        "max_completion_tokens", "max_tokens", "metadata", "modalities", "moderation", "n", "parallel_tool_calls",
        "prediction", "presence_penalty", "prompt_cache_key", "prompt_cache_options", "prompt_cache_retention",
        "reasoning_effort", "response_format", "safety_identifier", "seed", "service_tier", "stop", "store",
        "temperature", "tool_choice", "tools", "top_logprobs", "top_p", "verbosity", "web_search_options",
    },
    "completions": _BASE_ARGUMENTS
    | {
        "prompt", "best_of", "echo", "frequency_penalty", "logit_bias", "logprobs", "max_tokens", "n",
        "presence_penalty", "seed", "stop", "suffix", "temperature", "top_p",
    },
    "embeddings": frozenset({"model", "user", "input", "dimensions", "encoding_format"}),
    "responses": _BASE_ARGUMENTS
    | {
        "input", "instructions", "background", "conversation", "include", "max_output_tokens", "max_tool_calls",
        "metadata", "parallel_tool_calls", "previous_response_id", "prompt", "prompt_cache_key", "reasoning",
        "safety_identifier", "service_tier", "store", "temperature", "text", "tool_choice", "tools", "top_logprobs",
        "top_p", "truncation",
    },
}  # fmt: skip
"""Request arguments a strict server knows, by route: the OpenAI API's, as the client sends them."""


def route_of(path: str) -> str:
    """The operation a URL path asks for (a key of `KNOWN_ARGUMENTS`), under `/v1` or an Azure deployment; else ''."""
    path = path.rstrip("/")
    return next((route for route in KNOWN_ARGUMENTS if path.endswith("/" + route)), "")


def unknown_argument(route: str, body: dict[str, Any], api_version: str | None) -> str | None:
    """The first argument of `body` a strict server does not know on `route`, if any."""
    known = KNOWN_ARGUMENTS.get(route, frozenset())
    if api_version is None or api_version[:10] < STREAM_OPTIONS_SINCE:
        known = known - {"stream_options"}
    return next((name for name in body if name not in known), None)


def count_tokens(text: str) -> int:
    """The server's token count: one token per whitespace-separated word."""
    return len(text.split())


def _message_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def _slow_seconds(model: str) -> float:
    if model.startswith("slow-"):
        try:
            return int(model[5:]) / 1000
        except ValueError:
            return 0.0
    return 0.0


class _Handler(BaseHTTPRequestHandler):
    server: OpenAIServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # chunks go out at once

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        self.server.record(self.path, body, dict(self.headers))
        if self.server.strict and self._refused(body):
            return
        model = str(body.get("model", ""))
        if model == "error-500":
            self._json(
                {"error": {"message": "internal error", "type": "server_error"}},
                500,
                {"x-should-retry": "false"},
            )
            return
        if model == "flaky-429" and self.headers.get("x-stainless-retry-count", "0") == "0":
            self._json({"error": {"message": "rate limited", "type": "rate_limit"}}, 429, {"retry-after-ms": "10"})
            return
        if model == "odd-shape":
            self._json({"id": "odd-1", "object": "chat.completion", "model": model, "vendor_extra": {"x": [1, 2]}})
            return
        delay = _slow_seconds(model)
        if delay:
            time.sleep(delay)
        route = route_of(urlsplit(self.path).path)
        if route == "chat/completions":
            self._chat(body, model, delay)
        elif route == "completions":
            self._completion(body, model, delay)
        elif route == "embeddings":
            self._embeddings(body, model)
        elif route == "responses":
            self._responses(body, model, delay)
        else:
            self._json({"error": {"message": f"no route {self.path}"}}, 404)

    def _refused(self, body: dict[str, Any]) -> bool:
        """Answer as a strict server a request it cannot take: an Azure URL without an API version, an argument it
        does not know."""
        url = urlsplit(self.path)
        versions = parse_qs(url.query).get("api-version")
        if url.path.startswith("/openai/") and not versions:
            self._json({"error": {"code": "404", "message": "Resource not found"}}, 404)
            return True
        name = unknown_argument(route_of(url.path), body, versions[0] if versions else None)
        if name is None:
            return False
        error = {"message": f"Unrecognized request argument supplied: {name}", "type": "invalid_request_error"}
        self._json({"error": {**error, "param": None, "code": None}}, 400)
        return True

    # --- transport

    def _json(self, payload: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("x-request-id", "req_test")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _sse(
        self,
        events: Iterator[dict[str, Any]],
        delay: float,
        named: bool = False,
        break_after: int | None = None,
    ) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        try:
            for count, event in enumerate(events):
                if count == break_after:  # drop the connection in the middle of the stream
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                prefix = f"event: {event['type']}\n" if named else ""
                self._chunk(f"{prefix}data: {json.dumps(event)}\n\n".encode())
                if delay:
                    time.sleep(delay)
            self._chunk(b"data: [DONE]\n\n")
            self._chunk(b"")
        except (BrokenPipeError, ConnectionResetError):  # the client stopped reading
            pass

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    # --- chat

    def _chat(self, body: dict[str, Any], model: str, delay: float) -> None:
        messages = body.get("messages") or []
        prompt_tokens = sum(count_tokens(_message_text(m.get("content"))) for m in messages)
        wants_tool = bool(body.get("tools")) and (not messages or messages[-1].get("role") != "tool")
        tool_name = body["tools"][0]["function"]["name"] if wants_tool else None
        usage: dict[str, Any] | None = (
            None
            if model == "no-usage"
            else {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": count_tokens(TOOL_ARGUMENTS if wants_tool else REPLY),
                "total_tokens": prompt_tokens + count_tokens(TOOL_ARGUMENTS if wants_tool else REPLY),
            }
        )
        if usage is not None and model == "cached-tier":
            usage["prompt_tokens_details"] = {"cached_tokens": 3, "cache_write_tokens": 2}
        base = {
            "id": "chatcmpl-test123",
            "created": CREATED,
            "model": f"{model}-2024-01-01",
            "system_fingerprint": "fp_test",
        }
        if model == "cached-tier":
            base["service_tier"] = "priority"
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            chunks = self._chat_chunks(base, wants_tool, tool_name, usage, include_usage)
            self._sse(chunks, delay, break_after=2 if model == "broken-stream" else None)
            return
        message: dict[str, Any] = {"role": "assistant", "content": None if wants_tool else REPLY}
        if wants_tool:
            message["tool_calls"] = [
                {
                    "id": "call_test1",
                    "type": "function",
                    "function": {"name": tool_name, "arguments": TOOL_ARGUMENTS},
                }
            ]
        choice = {
            "index": 0,
            "message": message,
            "finish_reason": "tool_calls" if wants_tool else "stop",
            "logprobs": None,
        }
        payload = {**base, "object": "chat.completion", "choices": [choice]}
        if usage is not None:
            payload["usage"] = usage
        self._json(payload)

    @staticmethod
    def _chat_chunks(
        base: dict[str, Any],
        wants_tool: bool,
        tool_name: str | None,
        usage: dict[str, Any] | None,
        include_usage: bool,
    ) -> Iterator[dict[str, Any]]:
        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            payload = {
                **base,
                "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            if include_usage:
                payload["usage"] = None
            return payload

        if wants_tool:
            yield chunk(
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_test1",
                            "type": "function",
                            "function": {"name": tool_name, "arguments": ""},
                        }
                    ],
                }
            )
            for piece in (TOOL_ARGUMENTS[:10], TOOL_ARGUMENTS[10:22], TOOL_ARGUMENTS[22:]):
                yield chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
            yield chunk({}, "tool_calls")
        else:
            words = REPLY.split(" ")
            yield chunk({"role": "assistant", "content": ""})
            for index, word in enumerate(words):
                yield chunk({"content": word if index == 0 else " " + word})
            yield chunk({}, "stop")
        if include_usage and usage is not None:
            yield {**base, "object": "chat.completion.chunk", "choices": [], "usage": usage}

    # --- legacy completions

    def _completion(self, body: dict[str, Any], model: str, delay: float) -> None:
        prompt = body.get("prompt") or ""
        prompt_tokens = count_tokens(prompt if isinstance(prompt, str) else " ".join(map(str, prompt)))
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": count_tokens(REPLY),
            "total_tokens": prompt_tokens + count_tokens(REPLY),
        }
        base = {"id": "cmpl-test123", "object": "text_completion", "created": CREATED, "model": model}
        if body.get("stream"):

            def chunks() -> Iterator[dict[str, Any]]:
                for word in REPLY.split(" "):
                    yield {
                        **base,
                        "choices": [{"index": 0, "text": word + " ", "finish_reason": None, "logprobs": None}],
                    }
                yield {
                    **base,
                    "choices": [{"index": 0, "text": "", "finish_reason": "stop", "logprobs": None}],
                }

            self._sse(chunks(), delay)
            return
        self._json(
            {
                **base,
                "choices": [{"index": 0, "text": REPLY, "finish_reason": "stop", "logprobs": None}],
                "usage": usage,
            }
        )

    # --- embeddings

    def _embeddings(self, body: dict[str, Any], model: str) -> None:
        inputs = body.get("input")
        texts = [inputs] if isinstance(inputs, str) else list(inputs or [])
        data = []
        for index, text in enumerate(texts):
            vector = [((len(str(text)) + index + d) % 7) / 7 for d in range(EMBEDDING_DIMENSIONS)]
            if body.get("encoding_format") == "base64":
                embedding: Any = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
            else:
                embedding = vector
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        tokens = sum(count_tokens(str(t)) for t in texts)
        self._json(
            {
                "object": "list",
                "data": data,
                "model": model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    # --- responses

    def _responses(self, body: dict[str, Any], model: str, delay: float) -> None:
        request_input = body.get("input")
        text = request_input if isinstance(request_input, str) else json.dumps(request_input)
        input_tokens = count_tokens(text) + count_tokens(str(body.get("instructions") or ""))
        response = {
            "id": "resp_test123",
            "object": "response",
            "created_at": CREATED,
            "model": model,
            "status": "completed",
            "output": [
                {
                    "type": "message",
                    "id": "msg_test1",
                    "status": "completed",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": REPLY, "annotations": []}],
                }
            ],
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
            "usage": {
                "input_tokens": input_tokens,
                "output_tokens": count_tokens(REPLY),
                "total_tokens": input_tokens + count_tokens(REPLY),
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens_details": {"reasoning_tokens": 0},
            },
        }
        if not body.get("stream"):
            self._json(response)
            return

        def events() -> Iterator[dict[str, Any]]:
            started = {**response, "status": "in_progress", "output": [], "usage": None}
            yield {"type": "response.created", "sequence_number": 0, "response": started}
            for number, word in enumerate(REPLY.split(" "), start=1):
                yield {
                    "type": "response.output_text.delta",
                    "sequence_number": number,
                    "item_id": "msg_test1",
                    "output_index": 0,
                    "content_index": 0,
                    "delta": word + " ",
                    "logprobs": [],
                }
            yield {"type": "response.completed", "sequence_number": 99, "response": response}

        self._sse(events(), delay, named=True)


class OpenAIServer(ThreadingHTTPServer):
    """The server; `base_url` is what an OpenAI client's `base_url` should be set to, `url` an Azure client's
    `azure_endpoint`. A `strict` server refuses the arguments it does not know (see the module's docstring)."""

    daemon_threads = True
    request_queue_size = 128  # many clients may connect at once (concurrent calls, pools, exporters)

    def __init__(self, port: int = 0, strict: bool = False) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.strict = strict
        self.requests: list[tuple[str, dict[str, Any], dict[str, str]]] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # clients that stop reading are expected
            super().handle_error(request, client_address)

    def record(self, path: str, body: dict[str, Any], headers: dict[str, str]) -> None:
        with self._lock:
            self.requests.append((path, body, headers))

    def start(self) -> OpenAIServer:
        self._thread = threading.Thread(target=self.serve_forever, name="openai-test-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    server = OpenAIServer(port, strict="--strict" in sys.argv[2:])
    print(server.base_url, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
