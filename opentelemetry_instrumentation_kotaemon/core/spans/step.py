"""What every step span shares (a step: any span that is not a model request), and the base of their records."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from opentelemetry.trace import SpanKind

from ... import attributes as attr
from ..content import RetrievedDocuments
from ..instruments import Instruments

Attributes = dict[str, Any]
Fields = tuple[tuple[str, str], ...]
"""(record field, attribute name) pairs."""


def error_type(error: BaseException) -> str:
    """A low-cardinality `error.type`: the exception's public dotted name (``openai.RateLimitError``)."""
    cls = type(error)
    module = ".".join(part for part in cls.__module__.split(".") if not part.startswith("_"))
    if module in ("", "builtins"):
        return cls.__qualname__
    return f"{module}.{cls.__qualname__}"


def _present(value: Any) -> bool:
    """Whether an attribute value says something: not missing, not an empty string or list (0 and False do)."""
    return value is not None and value != "" and value != []


@dataclass(slots=True, kw_only=True)
class Step:
    """One step of an app that is not a model request; each kind of step is a subclass.

    Subclasses name their kind, operation and span kind, list which of their fields become which attributes (at the
    start, at the end, and content apart), and add what their kind counts in `_record_metrics`. Content fields are
    filled by integrations only when `Telemetry.captures_content` is true, and exported only after redaction.
    """

    KIND: ClassVar[str]
    """The `kotaemon.span.kind` value, and the key of the kind's duration histogram."""
    OPERATION: ClassVar[str | None] = None
    """The `gen_ai.operation.name` value, where the conventions have one."""
    VERB: ClassVar[str | None] = None
    """The first word of the span name when there is no operation."""
    SPAN_KIND: ClassVar[SpanKind] = SpanKind.INTERNAL
    START_ATTRIBUTES: ClassVar[Fields] = ()
    """Fields set on the span when it starts (seen by the sampler), when present."""
    END_ATTRIBUTES: ClassVar[Fields] = ()
    """Fields set on the span when it ends, when present."""
    START_CONTENT: ClassVar[Fields] = ()
    """Content fields known at the start: exported only when content is captured, after redaction."""
    END_CONTENT: ClassVar[Fields] = ()
    """Content fields known at the end: exported only when content is captured, after redaction."""
    NESTS: ClassVar[bool] = True
    """Whether steps below see this one as theirs: the innermost step, and the root that sums their tokens (a request
    to another process is neither)."""
    FAILURE_ATTRIBUTE: ClassVar[str | None] = attr.KOTAEMON_STEP_FAILURE
    """Where a failure the step reported goes, besides the span status."""
    INVOCATION: ClassVar[bool] = False
    """Whether steps of this kind (agents, workflows) are invocations in the conventions' sense, when they have an
    operation."""

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
    conversation_id: str | None = None
    """The conversation the step answers in (given to ktem's reasoning pipelines); inherited by every span below."""
    user_id: str | None = None
    """The app's user, as the app knows it (the core hashes it unless configured otherwise); inherited below."""
    in_invocation: bool = False
    """Set by the core: the step runs inside an agent or workflow invocation."""
    answer_index: int | None = None
    """The place of the step's answer in its conversation (ktem's reasoning pipelines: the exchanges before it); with
    `conversation_id`, it lets a later evaluation of the answer find this step's span."""

    @property
    def operation(self) -> str | None:
        return self.OPERATION

    @property
    def is_invocation(self) -> bool:
        """An agent or workflow invocation (not a wrapper inside a chain, which has no operation)."""
        return self.INVOCATION and self.operation is not None

    @property
    def span_kind(self) -> SpanKind:
        return self.SPAN_KIND

    @property
    def carries_context(self) -> bool:
        """Whether its span carries what the context says of everyone (baggage entries, conversation, user)."""
        return True

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
        return self._read(self.START_ATTRIBUTES, values)

    def end_attributes(self) -> Attributes:
        """Attributes known when the step ends."""
        values = self._read(self.END_ATTRIBUTES, {})
        self._end_attributes(values)
        if self.abandoned:
            values[attr.KOTAEMON_STREAM_ABANDONED] = True
        return values

    # --- content: exported only when content is captured, after redaction

    def start_content(self) -> Attributes:
        """Content attributes known when the step starts (query text, tool arguments...)."""
        return {key: value for name, key in self.START_CONTENT if (value := getattr(self, name)) is not None}

    def end_content(self) -> Attributes:
        """Content attributes known when the step ends (documents, tool results, answers...)."""
        return {key: value for name, key in self.END_CONTENT if (value := getattr(self, name)) is not None}

    # --- how it ended

    def error_name(self, error: BaseException | None) -> str | None:
        """The `error.type` of the step's end: what the integration knows, the exception's, or `failed` for a failure
        reported as a value; None when it succeeded."""
        name = error_type(error) if error is not None else None
        if self.error_type is not None and (error is not None or self.failure is not None):
            return self.error_type
        if name is None and self.failure is not None:
            return "failed"
        return name

    def reported(self, error: BaseException | None) -> bool:
        """Whether the step's failure is one it reported (`failure`, marked on the span as such) rather than the
        exception it raised (recorded as an exception)."""
        return error is None

    def join(self, outer: Step) -> bool:
        """Whether this step is part of `outer`, the step whose span is current, and is reported by it (taking its
        place in `outer` if so) instead of by a span of its own."""
        return False

    def report_to(self, outer: Step, error_name: str | None) -> None:
        """Tell the step it joined how it ended."""
        return None

    # --- metrics

    def record_metrics(self, instruments: Instruments, duration: float, error_name: str | None) -> None:
        """Record the finished step: its duration, its failure, and what its kind counts."""
        labels: Attributes = {attr.KOTAEMON_COMPONENT: self.component or self.name}
        if error_name is not None:
            labels[attr.ERROR_TYPE] = error_name
            instruments.errors.add(1, {attr.KOTAEMON_SPAN_KIND: self.KIND, attr.ERROR_TYPE: error_name})
        self._record_duration(instruments, duration, labels)
        self._record_metrics(instruments, labels, error_name)

    # --- what a kind may add

    def _read(self, fields: Fields, values: Attributes) -> Attributes:
        for name, key in fields:
            value = getattr(self, name)
            if _present(value):
                values[key] = value
        return values

    def _record_duration(self, instruments: Instruments, duration: float, labels: Attributes) -> None:
        """Record the step's duration on its kind's histogram, and an invocation's on `gen_ai.invocation.duration`
        when the instruments have it (the open convention change #571)."""
        attributes = {**labels, **self._duration_attributes()}
        histogram = instruments.step_durations.get(self.KIND)
        if histogram is not None:
            histogram.record(duration, attributes)
        if instruments.invocation_duration is not None and self.is_invocation:
            nested = {attr.GEN_AI_OPERATION_NAME: self.operation, attr.GEN_AI_INVOCATION_IS_NESTED: self.in_invocation}
            instruments.invocation_duration.record(duration, {**attributes, **nested})

    def _duration_attributes(self) -> Attributes:
        """What the conventions' duration metric of this kind is by (the tool, agent or workflow name)."""
        return {}

    def _end_attributes(self, values: Attributes) -> None:
        """Attributes computed from several fields at the end."""
        return None

    def _record_metrics(self, instruments: Instruments, labels: Attributes, error_name: str | None) -> None:
        return None

    def answer_source(self) -> str | None:
        """The data source this finished step drew documents from, for the answer it runs under (retrievals)."""
        return None


MAX_LISTED_DOCUMENTS = 100
"""The most documents a step's span lists (ids, scores, `gen_ai.retrieval.documents`); the count is always whole."""


class DocumentReader(Protocol):
    """How an integration reads one document its components return: id, relevance score, text."""

    def id(self, document: Any) -> str | None: ...

    def score(self, document: Any) -> float | None: ...

    def text(self, document: Any) -> str | None: ...


@dataclass(slots=True, kw_only=True)
class DocumentsStep(Step):
    """A step that returns documents (retrieval, re-ranking): their count, ids, scores, and (content) the documents.

    The integration hands over the returned documents and how to read them; they are read only when the span records
    (ids and scores at the end, texts only when content is captured), and only the first `MAX_LISTED_DOCUMENTS`.
    """

    documents: int | None = None
    """Documents the step returned."""
    returned: Sequence[Any] | None = None
    """The documents the step returned, as its component returned them."""
    reader: DocumentReader | None = None
    """How to read `returned`."""
    _listed: list[tuple[str | None, float | None]] | None = field(default=None, init=False, repr=False)

    END_ATTRIBUTES: ClassVar[Fields] = (("documents", attr.KOTAEMON_DOCUMENT_COUNT),)

    def _identified(self) -> list[tuple[str | None, float | None]]:
        """Id and score of each listed document, read once."""
        if self._listed is None:
            reader, returned = self.reader, self.returned
            if reader is None or not returned:
                self._listed = []
            else:
                self._listed = [(reader.id(d), _finite(reader.score(d))) for d in returned[:MAX_LISTED_DOCUMENTS]]
        return self._listed

    def _end_attributes(self, values: Attributes) -> None:
        listed = self._identified()
        if not listed:
            return
        ids = [doc_id for doc_id, _ in listed]
        if all(ids):  # parallel lists: only when every listed document has one
            values[attr.KOTAEMON_DOCUMENT_IDS] = ids
        scores = [score for _, score in listed]
        if all(score is not None for score in scores):
            values[attr.KOTAEMON_DOCUMENT_SCORES] = scores

    def end_content(self) -> Attributes:
        values = Step.end_content(self)
        listed = self._identified()
        if listed and self.reader is not None and self.returned:
            found = RetrievedDocuments()
            for (doc_id, score), document in zip(listed, self.returned, strict=False):
                item: dict[str, Any] = {}
                if doc_id:
                    item["id"] = doc_id
                if score is not None:
                    item["score"] = score
                text = self.reader.text(document)
                if text is not None:
                    item["content"] = text
                found.append(item)
            values[attr.GEN_AI_RETRIEVAL_DOCUMENTS] = found
        return values


def _finite(value: Any) -> float | None:
    """A score as a float, when it is a finite number (JSON has no NaN or infinity)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None
