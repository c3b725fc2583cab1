"""The metric instruments, created once, and what each finished call or step records on them.

Labels stay low-cardinality: operation, provider, model, server, component class, tool name, step kind and
error type. Never user, session or query text.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.metrics import Histogram, Meter

from .. import attributes as attr
from .records import ModelCall, StepCall


def _histogram(meter: Meter, name: str, unit: str, description: str) -> Histogram:
    try:
        return meter.create_histogram(
            name,
            unit=unit,
            description=description,
            explicit_bucket_boundaries_advisory=HISTOGRAM_BUCKETS[name],  # type: ignore[call-arg]
        )
    except TypeError:  # API < 1.28 has no bucket advice; the configurator adds views instead
        return meter.create_histogram(name, unit=unit, description=description)


_DOCUMENT_BUCKETS = (0, 1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000)

HISTOGRAM_BUCKETS: dict[str, tuple[float, ...]] = {
    attr.METRIC_OPERATION_DURATION: attr.DURATION_BUCKETS,
    attr.METRIC_TIME_TO_FIRST_CHUNK: attr.DURATION_BUCKETS,
    attr.METRIC_TOKEN_USAGE: attr.TOKEN_BUCKETS,
    attr.METRIC_RETRIEVAL_DOCUMENTS: _DOCUMENT_BUCKETS,
    attr.METRIC_RERANK_DOCUMENTS: _DOCUMENT_BUCKETS,
    **dict.fromkeys(attr.STEP_DURATION_METRICS.values(), attr.DURATION_BUCKETS),
    attr.METRIC_INVOKE_AGENT_DURATION: attr.AGENT_DURATION_BUCKETS,
    attr.METRIC_WORKFLOW_DURATION: attr.WORKFLOW_DURATION_BUCKETS,
    attr.METRIC_TIME_PER_OUTPUT_CHUNK: attr.DURATION_BUCKETS,
    attr.METRIC_MCP_CLIENT_OPERATION_DURATION: attr.MCP_DURATION_BUCKETS,
    attr.METRIC_MCP_SERVER_OPERATION_DURATION: attr.MCP_DURATION_BUCKETS,
}
"""Bucket boundaries of every histogram: given as advice to the API, and as views on SDKs that ignore advice."""
_MODEL_KINDS = {attr.OPERATION_EMBEDDINGS: attr.KIND_EMBEDDING}


class Instruments:
    """Every metric this package records."""

    def __init__(self, meter: Meter) -> None:
        self.duration = _histogram(meter, attr.METRIC_OPERATION_DURATION, "s", "GenAI operation duration")
        self.token_usage = _histogram(
            meter, attr.METRIC_TOKEN_USAGE, "{token}", "Number of input and output tokens used"
        )
        self.time_to_first_chunk = _histogram(
            meter,
            attr.METRIC_TIME_TO_FIRST_CHUNK,
            "s",
            "Time from the request to the first chunk of a streamed response",
        )
        self.time_per_output_chunk = _histogram(
            meter,
            attr.METRIC_TIME_PER_OUTPUT_CHUNK,
            "s",
            "Time between the chunks of a streamed response after the first",
        )
        self.streams_abandoned = meter.create_counter(
            attr.METRIC_STREAMS_ABANDONED, unit="{stream}", description="Streams the caller stopped reading early"
        )
        self.errors = meter.create_counter(
            attr.METRIC_ERRORS, unit="{error}", description="Failed calls and steps, by kind of step"
        )
        self.step_durations = {
            kind: _histogram(meter, name, "s", f"Duration of {kind} steps")
            for kind, name in attr.STEP_DURATION_METRICS.items()
        }
        self.retrieval_documents = _histogram(
            meter, attr.METRIC_RETRIEVAL_DOCUMENTS, "{document}", "Documents returned by a retrieval"
        )
        self.retrieval_empty = meter.create_counter(
            attr.METRIC_RETRIEVAL_EMPTY, unit="{retrieval}", description="Retrievals that returned no document"
        )
        self.rerank_documents = _histogram(
            meter, attr.METRIC_RERANK_DOCUMENTS, "{document}", "Documents kept after re-ranking"
        )
        self.indexing_documents = meter.create_counter(
            attr.METRIC_INDEXING_DOCUMENTS, unit="{document}", description="Documents indexed"
        )
        self.mcp_client_duration = _histogram(
            meter, attr.METRIC_MCP_CLIENT_OPERATION_DURATION, "s", "Duration of MCP requests, seen by the sender"
        )
        self.mcp_server_duration = _histogram(
            meter, attr.METRIC_MCP_SERVER_OPERATION_DURATION, "s", "Duration of MCP requests, seen by the receiver"
        )

    def model_call(self, call: ModelCall, duration: float, error: BaseException | None, error_name: str | None) -> None:
        """Record a finished model call (once per request: merged inner layers record nothing)."""
        labels = model_labels(call, error_name)
        self.duration.record(duration, labels)
        if call.input_tokens is not None:
            self.token_usage.record(call.input_tokens, {**labels, attr.GEN_AI_TOKEN_TYPE: attr.TOKEN_TYPE_INPUT})
        if call.output_tokens is not None:
            self.token_usage.record(call.output_tokens, {**labels, attr.GEN_AI_TOKEN_TYPE: attr.TOKEN_TYPE_OUTPUT})
        if call.time_to_first_chunk is not None:
            self.time_to_first_chunk.record(call.time_to_first_chunk, labels)
            if call.chunk_count > 1:
                per_chunk = (duration - call.time_to_first_chunk) / (call.chunk_count - 1)
                self.time_per_output_chunk.record(per_chunk, labels)
        if call.abandoned:
            self.streams_abandoned.add(1, labels)
        if error_name is not None:
            kind = _MODEL_KINDS.get(call.operation, attr.KIND_LLM)
            self.errors.add(1, {attr.KOTAEMON_SPAN_KIND: kind, attr.ERROR_TYPE: error_name})

    def step(self, step: StepCall, duration: float, error_name: str | None) -> None:
        """Record a finished step."""
        labels: dict[str, Any] = {attr.KOTAEMON_COMPONENT: step.component or step.name}
        if error_name is not None:
            labels[attr.ERROR_TYPE] = error_name
            self.errors.add(1, {attr.KOTAEMON_SPAN_KIND: step.kind, attr.ERROR_TYPE: error_name})
        histogram = self.step_durations.get(step.kind)
        if histogram is not None:
            histogram.record(duration, {**labels, **_step_identity(step)})
        if step.documents is None:
            return
        if step.kind == attr.KIND_RETRIEVER:
            self.retrieval_documents.record(step.documents, labels)
            if step.documents == 0 and error_name is None:
                self.retrieval_empty.add(1, labels)
        elif step.kind == attr.KIND_RERANKER:
            self.rerank_documents.record(step.documents, labels)
        elif step.kind == attr.KIND_INDEXING:
            self.indexing_documents.add(step.documents, labels)


_IDENTITY_KEYS = {
    attr.KIND_AGENT: (attr.GEN_AI_AGENT_NAME,),
    attr.KIND_PIPELINE: (attr.GEN_AI_WORKFLOW_NAME,),
}


def _step_identity(step: StepCall) -> dict[str, Any]:
    """The conventions' attributes of a tool, agent or workflow duration: the tool, agent or workflow name."""
    if step.kind == attr.KIND_TOOL:
        return {attr.GEN_AI_TOOL_NAME: step.tool_name or step.name}
    keys = _IDENTITY_KEYS.get(step.kind, ())
    return {key: step.attributes[key] for key in keys if key in step.attributes}


def identify(call: ModelCall, values: dict[str, Any]) -> dict[str, Any]:
    """Add what identifies a model call (operation, provider, request model, server) to `values`."""
    values[attr.GEN_AI_OPERATION_NAME] = call.operation
    values[attr.GEN_AI_PROVIDER_NAME] = call.provider
    if call.request_model:
        values[attr.GEN_AI_REQUEST_MODEL] = call.request_model
    return add_server(call, values)


def add_server(call: ModelCall, values: dict[str, Any]) -> dict[str, Any]:
    """Add the call's `server.address` and `server.port`, when known, to `values`."""
    if call.server_address:
        values[attr.SERVER_ADDRESS] = call.server_address
        if call.server_port:
            values[attr.SERVER_PORT] = call.server_port
    return values


def model_labels(call: ModelCall, error_name: str | None) -> dict[str, Any]:
    """Metric attributes of a model call."""
    labels = identify(call, {})
    if call.response_model:
        labels[attr.GEN_AI_RESPONSE_MODEL] = call.response_model
    if error_name is not None:
        labels[attr.ERROR_TYPE] = error_name
    return labels
