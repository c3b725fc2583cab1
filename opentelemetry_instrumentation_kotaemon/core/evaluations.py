"""Evaluations of answers (`gen_ai.evaluation.result` events) and the answers they judge, remembered for them.

A user judges an answer seconds or days after it was given, in another request: the answer is remembered by its
conversation and its place in it (the exchanges before it) when it is given, with its span context, its model and
the data sources it drew on, so the judgement can be parented to the answer's span and counted by model and index.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.trace import SpanContext

from .. import attributes as attr

ANSWERS_REMEMBERED = 10_000
"""Answers kept for the evaluations that come later, the least recently given or judged forgotten first (a few
hundred bytes each: about 4 MB when full)."""


@dataclass(slots=True)
class Answer:
    """An answer given in a conversation: its span, and what it was made from (filled as its steps end)."""

    span_context: SpanContext
    model: str | None = None
    """The request model of the chat call that streamed the answer (else of the first chat call below it)."""
    response_id: str | None = None
    """That call's `gen_ai.response.id`."""
    streamed: bool = False
    data_sources: set[str] = field(default_factory=set)
    """The data sources whose retrievals returned documents for it (ktem's file index ids)."""

    def note_model_call(self, model: str | None, response_id: str | None, streamed: bool) -> None:
        """A chat call below the answer ended: the first streamed one made the answer (calls may end on threads)."""
        if model is None or self.streamed or (self.model is not None and not streamed):
            return
        self.model, self.response_id, self.streamed = model, response_id, streamed

    def metric_attributes(self) -> dict[str, str]:
        """The answer's model and data sources (comma-separated, sorted), as the evaluation metric's labels."""
        values = {}
        if self.model:
            values[attr.GEN_AI_REQUEST_MODEL] = self.model
        if self.data_sources:
            values[attr.GEN_AI_DATA_SOURCE_ID] = ",".join(sorted(self.data_sources))
        return values


class AnswerBook:
    """Answers by (conversation id, place in the conversation), at most `size` of them (least recently used out)."""

    def __init__(self, size: int = ANSWERS_REMEMBERED) -> None:
        self.size = size
        self._answers: OrderedDict[tuple[str, int], Answer] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, conversation_id: str, index: int, answer: Answer) -> None:
        """Keep `answer` (a regenerated answer replaces the one before it)."""
        key = (conversation_id, index)
        with self._lock:
            self._answers[key] = answer
            self._answers.move_to_end(key)
            while len(self._answers) > self.size:
                self._answers.popitem(last=False)

    def find(self, conversation_id: str, index: int) -> Answer | None:
        with self._lock:
            answer = self._answers.get((conversation_id, index))
            if answer is not None:
                self._answers.move_to_end((conversation_id, index))
            return answer

    def __len__(self) -> int:
        return len(self._answers)


@dataclass(slots=True, kw_only=True)
class Evaluation:
    """What a user said about one answer: a like or dislike, or a report."""

    name: str
    """`gen_ai.evaluation.name`: `user_feedback` or `user_report`."""
    conversation_id: str
    answer_index: int
    """The place of the judged answer in its conversation (the exchanges before it)."""
    label: str | None = None
    score: float | None = None
    issues: list[str] | None = None
    """The issues a report ticked (the app's choices)."""
    explanation: str | None = None
    """Content: the user's own words (exported only when content is captured, redacted)."""

    def attributes(self) -> dict[str, Any]:
        """The event's attributes, texts (issues, explanation) and the answer's link apart."""
        values: dict[str, Any] = {
            attr.GEN_AI_EVALUATION_NAME: self.name,
            attr.KOTAEMON_EVALUATION_ANSWER_INDEX: self.answer_index,
        }
        if self.label is not None:
            values[attr.GEN_AI_EVALUATION_SCORE_LABEL] = self.label
        if self.score is not None:
            values[attr.GEN_AI_EVALUATION_SCORE_VALUE] = self.score
        return values

    def metric_attributes(self) -> dict[str, str]:
        values = {attr.GEN_AI_EVALUATION_NAME: self.name}
        if self.label is not None:
            values[attr.GEN_AI_EVALUATION_SCORE_LABEL] = self.label
        return values
