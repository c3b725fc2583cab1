"""The metric instruments, created once, and the bucket boundaries of every histogram.

What a finished call or step records on them is decided by its record (`core.spans`). Which names the GenAI ones have
(the merged conventions', those of changes still open, or both) is settled here, when the instruments are created:
a record only loops over the instruments it is given.

Labels stay low-cardinality: operation, provider, model, server, component class, tool name, step kind and
error type. Never user, session or query text.
"""

from __future__ import annotations

from opentelemetry.metrics import Counter, Histogram, Meter

from .. import attributes as attr
from ..settings import GenAiConventions


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


def _histograms(
    meter: Meter,
    names: tuple[str | None, str],
    conventions: GenAiConventions,
    unit: str,
    description: str,
) -> tuple[Histogram, ...]:
    """A GenAI histogram under its merged conventions' name (None: it has none), the name an open change gives it,
    or both, as `conventions` asks."""
    merged, upcoming = names
    chosen = ((merged,) if merged and conventions.latest else ()) + ((upcoming,) if conventions.next else ())
    return tuple(_histogram(meter, name, unit, description) for name in chosen)


# From the GenAI conventions: seconds for durations, powers of four for token counts.
DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
TOKEN_BUCKETS = tuple(4**power for power in range(14))
AGENT_DURATION_BUCKETS = (0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 51.2, 102.4, 204.8, 409.6)
WORKFLOW_DURATION_BUCKETS = (*DURATION_BUCKETS, 163.84, 327.68, 655.36)
"""The conventions' GenAI duration boundaries, three doublings further: a RAG pipeline takes from tens of milliseconds
to a minute (an agentic one, minutes), and its p95 is read on the same edges as its model calls'. Boundaries from 1 s
(`opentelemetry-util-genai`'s) put every pipeline under a second into one bucket: 0.5 s read as 0.95 s at p95."""
MCP_DURATION_BUCKETS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300)
DOCUMENT_BUCKETS = (0, 1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000)
RELEVANCE_BUCKETS = (0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1)
"""Re-ranker scores from 0 to 1 (Cohere, Voyage and TEI relevance, the LLM scorers); a scale beyond 1 lands in +Inf."""

HISTOGRAM_BUCKETS: dict[str, tuple[float, ...]] = {
    attr.METRIC_OPERATION_DURATION: DURATION_BUCKETS,
    attr.METRIC_TIME_TO_FIRST_CHUNK: DURATION_BUCKETS,
    attr.METRIC_TOKEN_USAGE: TOKEN_BUCKETS,
    attr.METRIC_RETRIEVAL_DOCUMENTS: DOCUMENT_BUCKETS,
    attr.METRIC_RERANK_DOCUMENTS: DOCUMENT_BUCKETS,
    attr.METRIC_RERANK_RELEVANCE: RELEVANCE_BUCKETS,
    **dict.fromkeys(attr.STEP_DURATION_METRICS.values(), DURATION_BUCKETS),
    attr.METRIC_INVOKE_AGENT_DURATION: AGENT_DURATION_BUCKETS,
    attr.METRIC_INVOKE_WORKFLOW_DURATION: WORKFLOW_DURATION_BUCKETS,
    attr.METRIC_TIME_PER_OUTPUT_CHUNK: DURATION_BUCKETS,
    attr.METRIC_MCP_CLIENT_OPERATION_DURATION: MCP_DURATION_BUCKETS,
    attr.METRIC_MCP_SERVER_OPERATION_DURATION: MCP_DURATION_BUCKETS,
    attr.METRIC_INFERENCE_DURATION: DURATION_BUCKETS,
    attr.METRIC_INFERENCE_TIME_TO_FIRST_CHUNK: DURATION_BUCKETS,
    attr.METRIC_INFERENCE_TIME_PER_OUTPUT_CHUNK: DURATION_BUCKETS,
    attr.METRIC_INFERENCE_OPERATION_INPUT_TOKENS: TOKEN_BUCKETS,
    attr.METRIC_INFERENCE_OPERATION_OUTPUT_TOKENS: TOKEN_BUCKETS,
    attr.METRIC_INVOCATION_DURATION: WORKFLOW_DURATION_BUCKETS,
}
"""Bucket boundaries of every histogram: given as advice to the API, and as views on SDKs that ignore advice."""

_INVOCATION_KINDS = (attr.KIND_AGENT, attr.KIND_PIPELINE)


class InferenceUsage:
    """The token metrics of chat and text completion calls proposed to replace `gen_ai.client.token.usage`
    (semantic-conventions-genai #374): a counter per kind of token, by modality, and a histogram of each call's input
    and output tokens."""

    def __init__(self, meter: Meter) -> None:
        def counter(name: str, what: str) -> Counter:
            return meter.create_counter(name, unit="{token}", description=f"{what} used by inference calls")

        self.input_tokens = counter(attr.METRIC_INFERENCE_USAGE_INPUT_TOKENS, "Input tokens")
        self.output_tokens = counter(attr.METRIC_INFERENCE_USAGE_OUTPUT_TOKENS, "Output tokens")
        self.cache_read_input_tokens = counter(
            attr.METRIC_INFERENCE_USAGE_CACHE_READ_INPUT_TOKENS, "Input tokens read from a provider's cache"
        )
        self.cache_write_input_tokens = counter(
            attr.METRIC_INFERENCE_USAGE_CACHE_WRITE_INPUT_TOKENS, "Input tokens written to a provider's cache"
        )
        self.reasoning_output_tokens = counter(
            attr.METRIC_INFERENCE_USAGE_REASONING_OUTPUT_TOKENS, "Output tokens spent on reasoning"
        )
        self.operation_input_tokens = _histogram(
            meter, attr.METRIC_INFERENCE_OPERATION_INPUT_TOKENS, "{token}", "Input tokens per inference call"
        )
        self.operation_output_tokens = _histogram(
            meter, attr.METRIC_INFERENCE_OPERATION_OUTPUT_TOKENS, "{token}", "Output tokens per inference call"
        )


class Instruments:
    """Every metric this package records, under the GenAI names `conventions` asks for."""

    def __init__(self, meter: Meter, conventions: GenAiConventions = GenAiConventions.LATEST) -> None:
        latest, upcoming = conventions.latest, conventions.next
        self.duration = _histogram(meter, attr.METRIC_OPERATION_DURATION, "s", "GenAI operation duration")
        self.token_usage = _histogram(
            meter, attr.METRIC_TOKEN_USAGE, "{token}", "Number of input and output tokens used"
        )
        """Tokens of every call with the merged conventions; of embeddings calls only with the open changes'."""
        self.inference_durations = (self.duration,) * latest + _histograms(
            meter, (None, attr.METRIC_INFERENCE_DURATION), conventions, "s", "GenAI inference duration"
        )
        """The histograms the duration of a chat or text completion call goes to."""
        self.times_to_first_chunk = _histograms(
            meter,
            (attr.METRIC_TIME_TO_FIRST_CHUNK, attr.METRIC_INFERENCE_TIME_TO_FIRST_CHUNK),
            conventions,
            "s",
            "Time from the request to the first chunk of a streamed response",
        )
        self.times_per_output_chunk = _histograms(
            meter,
            (attr.METRIC_TIME_PER_OUTPUT_CHUNK, attr.METRIC_INFERENCE_TIME_PER_OUTPUT_CHUNK),
            conventions,
            "s",
            "Time between the chunks of a streamed response after the first",
        )
        self.inference_token_usage = self.token_usage if latest else None
        """Where the tokens of a chat or text completion call go under the merged conventions' names."""
        self.inference_usage = InferenceUsage(meter) if upcoming else None
        self.invocation_duration = (
            _histogram(meter, attr.METRIC_INVOCATION_DURATION, "s", "Duration of agent and workflow invocations")
            if upcoming
            else None
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
            if latest or kind not in _INVOCATION_KINDS
        }
        """The duration histogram of each kind of step (agents and workflows: under the merged names only)."""
        self.retrieval_documents = _histogram(
            meter, attr.METRIC_RETRIEVAL_DOCUMENTS, "{document}", "Documents returned by a retrieval"
        )
        self.retrieval_empty = meter.create_counter(
            attr.METRIC_RETRIEVAL_EMPTY, unit="{retrieval}", description="Retrievals that returned no document"
        )
        self.rerank_documents = _histogram(
            meter, attr.METRIC_RERANK_DOCUMENTS, "{document}", "Documents kept after re-ranking"
        )
        self.rerank_relevance = _histogram(
            meter, attr.METRIC_RERANK_RELEVANCE, "1", "Relevance scores re-rankers gave the documents they returned"
        )
        self.evaluations = meter.create_counter(
            attr.METRIC_EVALUATIONS, unit="{evaluation}", description="Judgements of answers (likes, reports)"
        )
        self.indexing_documents = meter.create_counter(
            attr.METRIC_INDEXING_DOCUMENTS, unit="{document}", description="Documents indexed"
        )
        self.indexing_chunks = meter.create_counter(
            attr.METRIC_INDEXING_CHUNKS, unit="{chunk}", description="Chunks files were split into and stored"
        )
        self.mcp_client_duration = _histogram(
            meter, attr.METRIC_MCP_CLIENT_OPERATION_DURATION, "s", "Duration of MCP requests, seen by the sender"
        )
        self.mcp_server_duration = _histogram(
            meter, attr.METRIC_MCP_SERVER_OPERATION_DURATION, "s", "Duration of MCP requests, seen by the receiver"
        )
