"""Sparing the OpenAI client the usage-only chunk we ask for on streams: the chunk stays the raw dict it decoded."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)


class UsageChunkReader:
    """Stands in for the client of a stream whose usage chunk we asked for, until the stream starts.

    An OpenAI stream reads `_client._process_response_data` once, when its first chunk is asked for. This hands it
    a reader that leaves the usage-only chunk as the raw dict the client decoded: the caller never sees that chunk
    (the stream handler hides it), so building a model of it would be wasted work. The real client is put back
    at that moment; anything else read before it is read from the real client.
    """

    __slots__ = ("_client", "_stream")

    def __init__(self, stream: Any, client: Any) -> None:
        self._stream = stream
        self._client = client

    @classmethod
    def install(cls, stream: Any) -> None:
        """Stand in for the client of `stream`, a stream of the client's own classes that has not started.

        Anything unexpected leaves the stream as it is: the chunk is then built and hidden as any other.
        """
        import openai

        try:
            client = getattr(stream, "_client", None)
            if type(stream) in (openai.Stream, openai.AsyncStream) and hasattr(client, "_process_response_data"):
                stream._client = cls(stream, client)
        except Exception:
            logger.debug("failed to spare the client the usage chunk", exc_info=True)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    @property
    def _process_response_data(self) -> Callable[..., Any]:
        self._stream._client = self._client
        process = self._client._process_response_data

        def read(*, data: Any, cast_to: Any, response: Any) -> Any:
            # The same test as ChatStreamHandler's `hide`, inlined: this runs for every chunk of the stream.
            if type(data) is dict and data.get("usage") is not None and not data.get("choices"):
                return data
            return process(data=data, cast_to=cast_to, response=response)

        return read
