"""Plain typed records that integrations fill and the telemetry core turns into spans, metrics and events.

Integrations never touch spans: they describe a call in a `ModelCall` and hand it to the core.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

JSONValue = Any
"""A value `json.dumps` accepts."""


@dataclass(slots=True)
class ToolCall:
    """A tool call requested by the model (assembled from stream deltas when streamed)."""

    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(slots=True)
class OutputMessage:
    """One choice of a model response."""

    role: str = "assistant"
    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str | None = None


@dataclass(slots=True)
class ModelCall:
    """One logical request to a model (chat, text completion or embeddings), filled by an integration.

    Content fields (`input_messages`, `system_instructions`, `tool_definitions`, `output_messages`) are only
    filled when the core says content is captured.
    """

    operation: str
    provider: str
    request_model: str | None = None
    component: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    """Cheap, safe extra attributes set by the integration (component class, step name, prompt name...)."""
    server_address: str | None = None
    server_port: int | None = None
    streaming: bool = False
    # request parameters
    temperature: float | None = None
    top_p: float | None = None
    top_k: float | None = None
    max_tokens: int | None = None
    stop_sequences: list[str] | None = None
    seed: int | None = None
    choice_count: int | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    encoding_formats: list[str] | None = None
    output_type: str | None = None
    stream_usage_requested: bool = False
    # content (captured only when allowed)
    input_messages: list[dict[str, JSONValue]] | None = None
    system_instructions: list[dict[str, JSONValue]] | None = None
    tool_definitions: list[JSONValue] | None = None
    # response
    response_id: str | None = None
    response_model: str | None = None
    finish_reasons: list[str] = field(default_factory=list)
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    reasoning_output_tokens: int | None = None
    embedding_dimensions: int | None = None
    system_fingerprint: str | None = None
    service_tier: str | None = None
    output_messages: list[OutputMessage] | None = None
    # lifecycle facts
    retries: int = 0
    chunk_count: int = 0
    time_to_first_chunk: float | None = None
    abandoned: bool = False

    def merge_response(self, inner: ModelCall) -> None:
        """Take what an inner call of the same request learned (the outer layer reports it once)."""
        for name in _MERGED_FIELDS:
            value = getattr(inner, name)
            if value is not None and getattr(self, name) is None:
                setattr(self, name, value)
        if inner.finish_reasons and not self.finish_reasons:
            self.finish_reasons = list(inner.finish_reasons)
        self.retries += inner.retries
        self.stream_usage_requested = self.stream_usage_requested or inner.stream_usage_requested


_MERGED_FIELDS = (
    "request_model",
    "server_address",
    "server_port",
    "response_id",
    "response_model",
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "reasoning_output_tokens",
    "embedding_dimensions",
    "system_fingerprint",
    "service_tier",
    "output_messages",
    "time_to_first_chunk",
)


@dataclass(slots=True)
class StepCall:
    """One step of an app that is not a model request: retrieval, re-ranking, a tool, an agent, a pipeline.

    `content` holds values (query text, tool arguments, documents...) that are exported only when content is
    captured, after redaction; integrations build it only when `Telemetry.captures_content` is true.
    """

    kind: str
    name: str
    operation: str | None = None
    component: str | None = None
    owner: object | None = None
    """The object running the step; a step of the same kind and owner inside this one is the same step."""
    attributes: dict[str, Any] = field(default_factory=dict)
    content: dict[str, Any] = field(default_factory=dict)
    # filled while or after the step runs
    result_attributes: dict[str, Any] = field(default_factory=dict)
    result_content: dict[str, Any] = field(default_factory=dict)
    documents: int | None = None
    """Documents the step returned: retrieved, kept after re-ranking, or indexed."""
    failure: str | None = None
    """Set when the step failed without raising (an agent answering with status "failed")."""
    error_type: str | None = None
    """The `error.type` of a failure, when the integration knows it better than the exception class does."""
    tool_name: str | None = None
