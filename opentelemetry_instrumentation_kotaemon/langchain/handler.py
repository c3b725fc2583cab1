"""The callback handler we add to every LangChain callback manager (imported only once LangChain is)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler

from .runs import RunTracker

logger = logging.getLogger(__name__)


class TelemetryCallbackHandler(BaseCallbackHandler):  # type: ignore[misc]
    """Forwards LangChain's run events to a `RunTracker`; fail-safe, inert once uninstrumented.

    `run_inline` keeps LangChain from moving our callbacks to an executor thread in async runs.
    """

    run_inline = True
    # LangChain asks every handler these before every event; plain attributes spare it a property call each time.
    ignore_llm = ignore_retry = ignore_chain = ignore_agent = ignore_retriever = ignore_chat_model = False
    ignore_custom_event = True  # we handle no custom event

    def __init__(self, tracker: RunTracker) -> None:
        super().__init__()
        self.tracker = tracker
        self.telemetry = tracker.telemetry

    def _start(self, what: str, start: Callable[..., None], *args: Any, **kwargs: Any) -> None:
        if not self.telemetry.enabled:
            return
        try:
            start(*args, **kwargs)
        except Exception:
            logger.debug("failed to trace a LangChain %s start", what, exc_info=True)

    def on_chain_start(
        self, serialized: Any, inputs: Any, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        self._start("chain", self.tracker.chain_start, run_id, parent_run_id, serialized, kwargs)

    def on_chat_model_start(
        self, serialized: Any, messages: Any, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        self._start(
            "chat model", self.tracker.model_start, run_id, parent_run_id, serialized, messages, kwargs, chat=True
        )

    def on_llm_start(
        self, serialized: Any, prompts: Any, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        self._start("LLM", self.tracker.model_start, run_id, parent_run_id, serialized, prompts, kwargs, chat=False)

    def on_tool_start(
        self, serialized: Any, input_str: Any, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        self._start("tool", self.tracker.tool_start, run_id, parent_run_id, serialized, input_str, kwargs)

    def on_retriever_start(
        self, serialized: Any, query: Any, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        self._start("retriever", self.tracker.retriever_start, run_id, parent_run_id, serialized, query, kwargs)

    def on_llm_new_token(self, token: Any, *, run_id: UUID, **kwargs: Any) -> None:
        try:
            self.tracker.new_token(run_id)
        except Exception:
            logger.debug("failed to count a LangChain stream chunk", exc_info=True)

    # Ends and errors run even after uninstrument, so runs started before it are finished and freed.

    def _end(self, run_id: UUID, result: Any) -> None:
        try:
            self.tracker.end(run_id, result)
        except Exception:
            logger.debug("failed to finish a LangChain run", exc_info=True)

    def _fail(self, run_id: UUID, error: BaseException) -> None:
        try:
            self.tracker.fail(run_id, error)
        except Exception:
            logger.debug("failed to record a LangChain run error", exc_info=True)

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id, outputs)

    def on_llm_end(self, response: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id, response)

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id, output)

    def on_retriever_end(self, documents: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id, documents)

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._fail(run_id, error)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._fail(run_id, error)

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._fail(run_id, error)

    def on_retriever_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._fail(run_id, error)
