"""Which streamed chat calls we ask for their usage, and what happens when a server refuses the question.

A chat stream reports its tokens only when asked (`stream_options: {"include_usage": true}`), so we ask on behalf of
an app that did not. Not every server knows the argument: Azure OpenAI refuses it before API version 2024-09-01
(`400 Unrecognized request argument supplied: stream_options`), and so do some OpenAI-compatible servers. So:

- by default (`auto`) we ask only where the endpoint is known to accept it: api.openai.com, and the Azure clients on
  an API version from 2024-09-01 (`always` asks everywhere, `never` nowhere);
- wherever we asked, a refusal that names the argument (HTTP 400 or 422) gets the call made again, once, exactly as
  the app made it, before the app sees anything (a refused request is not processed, so nothing is billed twice),
  and that endpoint (base URL and API version) is not asked again in this process.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import weakref
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from .. import attributes as attr
from ..core.spans import ModelCall
from ..settings import StreamUsage
from .fields import given
from .requests import provider_of_client, server_of_client

logger = logging.getLogger(__name__)

OPENAI_HOST = "api.openai.com"
AZURE_FIRST_VERSION = "2024-09-01"
"""The first Azure OpenAI API version that takes `stream_options` (2024-09-01-preview; stable from 2024-10-21)."""
REFUSED_LIMIT = 256
"""How many endpoints that refused the question are remembered (the oldest forgotten first)."""
USAGE_ARGUMENT = "stream_options"
_REFUSAL_STATUSES = frozenset({400, 422})
_API_VERSION = "api-version"
_DATED_VERSION = re.compile(r"\d{4}-\d{2}-\d{2}")

Endpoint = tuple[str, str | None]
"""An endpoint as we remember it: the client's base URL and the API version the call is sent with."""


def _api_version(query: Any) -> str | None:
    version = query.get(_API_VERSION) if isinstance(query, Mapping) else None
    return version if isinstance(version, str) else None


def azure_accepts(version: str | None) -> bool:
    """Whether an Azure OpenAI API version (`2024-10-21`, `2024-02-15-preview`) is one that takes `stream_options`."""
    return version is not None and _DATED_VERSION.match(version) is not None and version[:10] >= AZURE_FIRST_VERSION


def names_usage_request(error: BaseException) -> bool:
    """Whether `error` is a server refusing a request for naming `stream_options` (HTTP 400 or 422)."""
    if getattr(error, "status_code", None) not in _REFUSAL_STATUSES:
        return False
    message = getattr(error, "message", None)
    if isinstance(message, str) and USAGE_ARGUMENT in message:
        return True
    return USAGE_ARGUMENT in str(getattr(error, "body", None))


class UsageRequests:
    """Decides, per streamed chat call, whether to ask for usage; remembers the endpoints that refused."""

    def __init__(self, mode: StreamUsage) -> None:
        self.mode = mode
        self._clients: weakref.WeakKeyDictionary[Any, tuple[Any, Any, bool, Endpoint]] = weakref.WeakKeyDictionary()
        """Each client's base URL and default query (as decided on), whether we ask it and its endpoint."""
        self._refused: OrderedDict[Endpoint, None] = OrderedDict()
        self._lock = threading.Lock()

    def asks(self, client: Any, kwargs: Mapping[str, Any]) -> bool:
        """Whether to ask this streamed chat call of `client` for its usage."""
        if self.mode is StreamUsage.NEVER or client is None:
            return False
        version = _api_version(given(kwargs.get("extra_query")))  # a call may name its own API version
        asked, endpoint = self._decision(client) if version is None else self._decide(client, version)
        refused = self._refused
        return asked and not (refused and endpoint in refused)

    def _decision(self, client: Any) -> tuple[bool, Endpoint]:
        """The decision for a client's own base URL and API version, made once per client (and URL)."""
        url = getattr(client, "base_url", None)
        query = getattr(client, "_custom_query", None)
        try:
            cached = self._clients.get(client)
        except TypeError:  # a client that is not weakly referenceable is decided on every call
            cached = None
        if cached is not None and cached[0] is url and cached[1] is query:
            return cached[2], cached[3]
        asked, endpoint = self._decide(client, _api_version(query))
        with contextlib.suppress(TypeError):
            self._clients[client] = (url, query, asked, endpoint)
        return asked, endpoint

    def _decide(self, client: Any, version: str | None) -> tuple[bool, Endpoint]:
        endpoint = (str(getattr(client, "base_url", "")), version)
        if self.mode is StreamUsage.ALWAYS:
            return True, endpoint
        if provider_of_client(client) == attr.PROVIDER_AZURE_OPENAI:
            return azure_accepts(version), endpoint
        return server_of_client(client)[0] == OPENAI_HOST, endpoint

    def refused(self, call: ModelCall, instance: Any, kwargs: Mapping[str, Any], error: BaseException) -> bool:
        """Whether `error` is the server refusing the usage request we added to the call (made with the app's
        `kwargs`). If so, the endpoint is remembered, and the call record notes the resend and that no usage chunk
        is coming: the call is about to be made again as the app made it."""
        if not call.stream_usage_requested or not names_usage_request(error):
            return False
        client = getattr(instance, "_client", None)
        version = _api_version(given(kwargs.get("extra_query"))) or _api_version(getattr(client, "_custom_query", None))
        self.remember_refusal((str(getattr(client, "base_url", "")), version))
        call.stream_usage_requested = False
        call.retries += 1
        logger.debug(
            "%s (API version %s) refused the stream usage request; the call is made again without it",
            call.server_address,
            version,
        )
        return True

    def remember_refusal(self, endpoint: Endpoint) -> None:
        with self._lock:
            self._refused[endpoint] = None
            self._refused.move_to_end(endpoint)
            while len(self._refused) > REFUSED_LIMIT:
                self._refused.popitem(last=False)
