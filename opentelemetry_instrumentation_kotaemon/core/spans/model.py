"""Model call spans: `{operation} {model}` (CLIENT) for chat, text completion and embeddings; the GenAI client
metrics; the inference details event."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from opentelemetry.metrics import Histogram

from ... import attributes as attr
from ..content import text_part
from ..instruments import InferenceUsage, Instruments

JSONValue = Any
"""A value `json.dumps` accepts."""
Attributes = dict[str, Any]

FINISH_REASON_ERROR = "error"
"""The conventions' finish reason for a generation that ended abnormally (reported or inferred)."""

# Operations that describe the same kind of request: an inner call of the same family inside an outer one is the
# same request seen from a lower layer (Kotaemon -> LangChain -> OpenAI client), so it is merged into the outer call,
# not counted again.
_FAMILY = {
    attr.OPERATION_CHAT: "generate",
    attr.OPERATION_TEXT_COMPLETION: "generate",
    attr.OPERATION_EMBEDDINGS: "embed",
}


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

    def to_json(self) -> dict[str, JSONValue]:
        """This choice as a GenAI `gen_ai.output.messages` item."""
        parts: list[dict[str, Any]] = []
        if self.text:
            parts.append(text_part(self.text))
        for call in self.tool_calls:
            parts.append({"type": "tool_call", "id": call.id, "name": call.name, "arguments": call.arguments})
        return {"role": self.role, "parts": parts, "finish_reason": self.finish_reason or ""}


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
    """The qualified class name of the component (or the LangChain model's name) that made the call."""
    step_name: str | None = None
    """The component's name inside its pipeline (theflow's node name), where there is one."""
    prompt_name: str | None = None
    prompt_version: str | None = None
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
    request_service_tier: str | None = None
    """The service tier the request asked for (OpenAI), when not the default `auto`."""
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
    cache_write_input_tokens: int | None = None
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

    def same_request(self, inner: ModelCall) -> bool:
        """Whether `inner` is this call seen from a lower layer (same kind of operation)."""
        return _FAMILY.get(self.operation) == _FAMILY.get(inner.operation)

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

    def settle(self, failed: bool) -> None:
        """What the end of the call implies. A stream that ended before its last event (left early, or failed) owed a
        finish reason per choice: the conventions ask for `error` where none came, instead of leaving it out."""
        if not self.streaming or not (self.abandoned or failed) or self.operation == attr.OPERATION_EMBEDDINGS:
            return
        missing = (self.choice_count or 1) - len(self.finish_reasons)
        if missing > 0:
            self.finish_reasons = [*self.finish_reasons, *([FINISH_REASON_ERROR] * missing)]
        for message in self.output_messages or ():
            if not message.finish_reason:
                message.finish_reason = FINISH_REASON_ERROR

    # --- the span

    def span_name(self) -> str:
        return f"{self.operation} {self.request_model}" if self.request_model else self.operation

    def start_attributes(self) -> Attributes:
        """Attributes known when the call starts (given to the sampler)."""
        values = self._identity({attr.GEN_AI_SYSTEM: self.provider} if attr.EMIT_GEN_AI_SYSTEM else {})
        if self.component:
            values[attr.KOTAEMON_COMPONENT] = self.component
            kind = attr.KIND_EMBEDDING if self.operation == attr.OPERATION_EMBEDDINGS else attr.KIND_LLM
            values[attr.KOTAEMON_SPAN_KIND] = kind
        if self.step_name:
            values[attr.KOTAEMON_STEP] = self.step_name
        if self.prompt_name:
            values[attr.GEN_AI_PROMPT_NAME] = self.prompt_name
        if self.prompt_version:
            values[attr.GEN_AI_PROMPT_VERSION] = self.prompt_version
        return values

    def request_attributes(self) -> Attributes:
        """The request parameters, set once the span is known to record."""
        values = self._fields(_REQUEST_FIELDS)
        if self.choice_count == 1:  # the conventions record a choice count other than 1 only
            del values[attr.GEN_AI_REQUEST_CHOICE_COUNT]
        if self.streaming:
            values[attr.GEN_AI_REQUEST_STREAM] = True
        return values

    def end_attributes(self, failed: bool) -> Attributes:
        """What the response (or the stream) said, set when the call ends."""
        values = self._fields(_RESPONSE_FIELDS)
        if self.finish_reasons:
            values[attr.GEN_AI_RESPONSE_FINISH_REASONS] = self.finish_reasons
        self._server(values)  # an inner layer may have learned it after the span started
        if self.retries:
            values[attr.HTTP_REQUEST_RESEND_COUNT] = self.retries
        if self.abandoned:
            values[attr.KOTAEMON_STREAM_ABANDONED] = True
        if self.streaming and (self.abandoned or failed):  # how far it got; a stream read to its end has its usage
            values[attr.KOTAEMON_STREAM_CHUNK_COUNT] = self.chunk_count
        return values

    def event_attributes(self) -> Attributes:
        """What identifies the call on its inference details event (the content is added by the core)."""
        values: Attributes = {attr.GEN_AI_OPERATION_NAME: self.operation, attr.GEN_AI_PROVIDER_NAME: self.provider}
        if self.request_model:
            values[attr.GEN_AI_REQUEST_MODEL] = self.request_model
        return values

    # --- content: exported only when content is captured, after redaction

    def start_content(self) -> Attributes:
        """The prompt: input messages, system instructions, tool definitions."""
        values: Attributes = {}
        if self.input_messages is not None:
            values[attr.GEN_AI_INPUT_MESSAGES] = self.input_messages
        if self.system_instructions is not None:
            values[attr.GEN_AI_SYSTEM_INSTRUCTIONS] = self.system_instructions
        if self.tool_definitions is not None:
            values[attr.GEN_AI_TOOL_DEFINITIONS] = self.tool_definitions
        return values

    def end_content(self) -> Attributes:
        """The completion: output messages."""
        if self.output_messages is None:
            return {}
        return {attr.GEN_AI_OUTPUT_MESSAGES: [message.to_json() for message in self.output_messages]}

    # --- metrics

    def record_metrics(self, instruments: Instruments, duration: float, error_name: str | None) -> None:
        """Record a finished call (once per request: merged inner layers record nothing), under the GenAI metric
        names the instruments were created with."""
        labels = self.metric_labels(error_name)
        if self.operation == attr.OPERATION_EMBEDDINGS:  # no open change renames the embeddings metrics yet
            instruments.duration.record(duration, labels)
            self._record_token_usage(instruments.token_usage, labels)
        else:
            for histogram in instruments.inference_durations:
                histogram.record(duration, labels)
            if instruments.inference_token_usage is not None:
                self._record_token_usage(instruments.inference_token_usage, labels)
            if instruments.inference_usage is not None:
                self._record_inference_usage(instruments.inference_usage, labels, error_name)
        if self.time_to_first_chunk is not None:
            for histogram in instruments.times_to_first_chunk:
                histogram.record(self.time_to_first_chunk, labels)
            if self.chunk_count > 1:
                per_chunk = (duration - self.time_to_first_chunk) / (self.chunk_count - 1)
                for histogram in instruments.times_per_output_chunk:
                    histogram.record(per_chunk, labels)
        if self.abandoned:
            instruments.streams_abandoned.add(1, labels)
        if error_name is not None:
            kind = attr.KIND_EMBEDDING if self.operation == attr.OPERATION_EMBEDDINGS else attr.KIND_LLM
            instruments.errors.add(1, {attr.KOTAEMON_SPAN_KIND: kind, attr.ERROR_TYPE: error_name})

    def _record_token_usage(self, histogram: Histogram, labels: Attributes) -> None:
        """`gen_ai.client.token.usage`: the input and output tokens, by `gen_ai.token.type`."""
        if self.input_tokens is not None:
            histogram.record(self.input_tokens, {**labels, attr.GEN_AI_TOKEN_TYPE: attr.TOKEN_TYPE_INPUT})
        if self.output_tokens is not None:
            histogram.record(self.output_tokens, {**labels, attr.GEN_AI_TOKEN_TYPE: attr.TOKEN_TYPE_OUTPUT})

    def _record_inference_usage(self, usage: InferenceUsage, labels: Attributes, error_name: str | None) -> None:
        """The token metrics of semantic-conventions-genai #374: the per-call histograms (with `error.type`) and the
        counters, by modality and without `error.type`; the input and output counters get 0 when the provider
        reported no usage, as that change asks."""
        if self.input_tokens is not None:
            usage.operation_input_tokens.record(self.input_tokens, labels)
        if self.output_tokens is not None:
            usage.operation_output_tokens.record(self.output_tokens, labels)
        counted = {key: value for key, value in labels.items() if key != attr.ERROR_TYPE} if error_name else labels
        counted = {**counted, attr.GEN_AI_TOKEN_MODALITY: attr.TOKEN_MODALITY_UNKNOWN}
        usage.input_tokens.add(self.input_tokens or 0, counted)
        usage.output_tokens.add(self.output_tokens or 0, counted)
        for count, counter in (
            (self.cache_read_input_tokens, usage.cache_read_input_tokens),
            (self.cache_write_input_tokens, usage.cache_write_input_tokens),
            (self.reasoning_output_tokens, usage.reasoning_output_tokens),
        ):
            if count is not None:
                counter.add(count, counted)

    def metric_labels(self, error_name: str | None) -> Attributes:
        """The metric attributes of this call."""
        labels = self._identity({})
        if self.response_model:
            labels[attr.GEN_AI_RESPONSE_MODEL] = self.response_model
        if self.service_tier:  # OpenAI's refinement of the client metrics
            labels[attr.OPENAI_RESPONSE_SERVICE_TIER] = self.service_tier
        if self.system_fingerprint:
            labels[attr.OPENAI_RESPONSE_SYSTEM_FINGERPRINT] = self.system_fingerprint
        if error_name is not None:
            labels[attr.ERROR_TYPE] = error_name
        return labels

    def _identity(self, values: Attributes) -> Attributes:
        values[attr.GEN_AI_OPERATION_NAME] = self.operation
        values[attr.GEN_AI_PROVIDER_NAME] = self.provider
        if self.request_model:
            values[attr.GEN_AI_REQUEST_MODEL] = self.request_model
        return self._server(values)

    def _server(self, values: Attributes) -> Attributes:
        if self.server_address:
            values[attr.SERVER_ADDRESS] = self.server_address
            if self.server_port:
                values[attr.SERVER_PORT] = self.server_port
        return values

    def _fields(self, fields: tuple[tuple[str, str], ...]) -> Attributes:
        values: Attributes = {}
        for name, key in fields:
            value = getattr(self, name)
            if value is not None:
                values[key] = value
        return values


_MERGED_FIELDS = (
    "request_model",
    "server_address",
    "server_port",
    "response_id",
    "response_model",
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_write_input_tokens",
    "reasoning_output_tokens",
    "embedding_dimensions",
    "system_fingerprint",
    "service_tier",
    "request_service_tier",
    "output_messages",
    "time_to_first_chunk",
)

_REQUEST_FIELDS: tuple[tuple[str, str], ...] = (
    ("temperature", attr.GEN_AI_REQUEST_TEMPERATURE),
    ("top_p", attr.GEN_AI_REQUEST_TOP_P),
    ("top_k", attr.GEN_AI_REQUEST_TOP_K),
    ("max_tokens", attr.GEN_AI_REQUEST_MAX_TOKENS),
    ("stop_sequences", attr.GEN_AI_REQUEST_STOP_SEQUENCES),
    ("seed", attr.GEN_AI_REQUEST_SEED),
    ("choice_count", attr.GEN_AI_REQUEST_CHOICE_COUNT),
    ("frequency_penalty", attr.GEN_AI_REQUEST_FREQUENCY_PENALTY),
    ("presence_penalty", attr.GEN_AI_REQUEST_PRESENCE_PENALTY),
    ("encoding_formats", attr.GEN_AI_REQUEST_ENCODING_FORMATS),
    ("output_type", attr.GEN_AI_OUTPUT_TYPE),
)

_RESPONSE_FIELDS: tuple[tuple[str, str], ...] = (
    ("response_id", attr.GEN_AI_RESPONSE_ID),
    ("response_model", attr.GEN_AI_RESPONSE_MODEL),
    ("input_tokens", attr.GEN_AI_USAGE_INPUT_TOKENS),
    ("output_tokens", attr.GEN_AI_USAGE_OUTPUT_TOKENS),
    ("cache_read_input_tokens", attr.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS),
    ("cache_write_input_tokens", attr.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS),
    ("reasoning_output_tokens", attr.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS),
    ("embedding_dimensions", attr.GEN_AI_EMBEDDINGS_DIMENSION_COUNT),
    ("system_fingerprint", attr.OPENAI_RESPONSE_SYSTEM_FINGERPRINT),
    ("service_tier", attr.OPENAI_RESPONSE_SERVICE_TIER),
    ("request_service_tier", attr.OPENAI_REQUEST_SERVICE_TIER),  # at the end: an inner client call may know it
    ("time_to_first_chunk", attr.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK),
)
