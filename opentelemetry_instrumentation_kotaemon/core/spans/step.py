"""What every step span shares (a step: any span that is not a model request), and the base of their records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from opentelemetry.trace import SpanKind

from ... import attributes as attr
from ..instruments import Instruments

Attributes = dict[str, Any]


@dataclass(slots=True, kw_only=True)
class Step:
    """One step of an app that is not a model request; each kind of step is a subclass.

    Subclasses name their kind, operation and span kind, and add their own attributes in `_start_attributes`,
    `_end_attributes`, `start_content`, `end_content` and `_record_metrics`. Content fields are filled by
    integrations only when `Telemetry.captures_content` is true, and exported only after redaction.
    """

    KIND: ClassVar[str]
    """The `kotaemon.span.kind` value, and the key of the kind's duration histogram."""
    OPERATION: ClassVar[str | None] = None
    """The `gen_ai.operation.name` value, where the conventions have one."""
    VERB: ClassVar[str | None] = None
    """The first word of the span name when there is no operation."""
    SPAN_KIND: ClassVar[SpanKind] = SpanKind.INTERNAL

    name: str
    component: str | None = None
    """The qualified class name of the component (or the runnable's name) running the step."""
    owner: object | None = None
    """The object running the step; a step of the same kind and owner inside this one is the same step."""
    step_name: str | None = None
    """The step's name inside its pipeline (theflow's node name), where there is one."""
    failure: str | None = None
    """Set when the step failed without raising (an agent answering with status "failed")."""
    error_type: str | None = None
    """The `error.type` of a failure, when the integration knows it better than the exception class does."""
    abandoned: bool = False
    """Set when the caller left the step's stream before its end."""

    @property
    def operation(self) -> str | None:
        return self.OPERATION

    def span_name(self) -> str:
        verb = self.operation or self.VERB
        return f"{verb} {self.name}" if verb else self.name

    def start_attributes(self) -> Attributes:
        """Attributes known when the step starts (given to the sampler)."""
        values: Attributes = {attr.KOTAEMON_SPAN_KIND: self.KIND}
        operation = self.operation
        if operation:
            values[attr.GEN_AI_OPERATION_NAME] = operation
        if self.component:
            values[attr.KOTAEMON_COMPONENT] = self.component
        if self.step_name:
            values[attr.KOTAEMON_STEP] = self.step_name
        self._start_attributes(values)
        return values

    def end_attributes(self) -> Attributes:
        """Attributes known when the step ends."""
        values: Attributes = {}
        self._end_attributes(values)
        if self.abandoned:
            values[attr.KOTAEMON_STREAM_ABANDONED] = True
        return values

    # --- content: exported only when content is captured, after redaction

    def start_content(self) -> Attributes:
        """Content attributes known when the step starts (query text, tool arguments...)."""
        return {}

    def end_content(self) -> Attributes:
        """Content attributes known when the step ends (documents, tool results, answers...)."""
        return {}

    # --- metrics

    def record_metrics(self, instruments: Instruments, duration: float, error_name: str | None) -> None:
        """Record the finished step: its duration, its failure, and what its kind counts."""
        labels: Attributes = {attr.KOTAEMON_COMPONENT: self.component or self.name}
        if error_name is not None:
            labels[attr.ERROR_TYPE] = error_name
            instruments.errors.add(1, {attr.KOTAEMON_SPAN_KIND: self.KIND, attr.ERROR_TYPE: error_name})
        instruments.step_durations[self.KIND].record(duration, {**labels, **self._duration_attributes()})
        self._record_metrics(instruments, labels, error_name)

    # --- what each kind adds

    def _start_attributes(self, values: Attributes) -> None:
        return None

    def _duration_attributes(self) -> Attributes:
        """What the conventions' duration metric of this kind is by (the tool, agent or workflow name)."""
        return {}

    def _end_attributes(self, values: Attributes) -> None:
        return None

    def _record_metrics(self, instruments: Instruments, labels: Attributes, error_name: str | None) -> None:
        return None


@dataclass(slots=True, kw_only=True)
class DocumentsStep(Step):
    """A step that returns documents (retrieval, re-ranking): their count, ids, scores, and (content) the documents."""

    documents: int | None = None
    """Documents the step returned."""
    document_ids: list[str] | None = None
    document_scores: list[float] | None = None
    found: list[dict[str, Any]] | None = None
    """Content: each returned document as `{"id", "content", "score"?}`."""

    def _end_attributes(self, values: Attributes) -> None:
        if self.documents is not None:
            values[attr.KOTAEMON_DOCUMENT_COUNT] = self.documents
        if self.document_ids:
            values[attr.KOTAEMON_DOCUMENT_IDS] = self.document_ids
        if self.document_scores:
            values[attr.KOTAEMON_DOCUMENT_SCORES] = self.document_scores

    def end_content(self) -> Attributes:
        return {attr.GEN_AI_RETRIEVAL_DOCUMENTS: self.found} if self.found is not None else {}
