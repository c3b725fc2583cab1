"""Every attribute, metric and event name this package emits, in one place.

Names come from `opentelemetry-semantic-conventions` where the lowest supported release (0.48b0, the one in
Kotaemon's lock) already defines them. Names the conventions added later are spelled out as plain strings with
the same value, so the package works on that floor. Names of our own, where the conventions have none, use the
``kotaemon.`` prefix.
"""

from __future__ import annotations

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as _gen_ai
from opentelemetry.semconv._incubating.attributes import telemetry_attributes as _telemetry
from opentelemetry.semconv._incubating.metrics import gen_ai_metrics as _gen_ai_metrics
from opentelemetry.semconv.attributes import error_attributes as _error
from opentelemetry.semconv.attributes import exception_attributes as _exception
from opentelemetry.semconv.attributes import http_attributes as _http
from opentelemetry.semconv.attributes import server_attributes as _server

# --- GenAI conventions present in the floor release
GEN_AI_OPERATION_NAME = _gen_ai.GEN_AI_OPERATION_NAME
GEN_AI_SYSTEM = _gen_ai.GEN_AI_SYSTEM
EMIT_GEN_AI_SYSTEM = not hasattr(_gen_ai, "GEN_AI_PROVIDER_NAME")
"""Whether spans also carry the provider as `gen_ai.system`: only with convention releases that predate
`gen_ai.provider.name` (Kotaemon's lock), where `gen_ai.system` is the provider attribute; later releases
deprecate it in favour of `gen_ai.provider.name`."""
GEN_AI_REQUEST_MODEL = _gen_ai.GEN_AI_REQUEST_MODEL
GEN_AI_REQUEST_MAX_TOKENS = _gen_ai.GEN_AI_REQUEST_MAX_TOKENS
GEN_AI_REQUEST_TEMPERATURE = _gen_ai.GEN_AI_REQUEST_TEMPERATURE
GEN_AI_REQUEST_TOP_P = _gen_ai.GEN_AI_REQUEST_TOP_P
GEN_AI_REQUEST_TOP_K = _gen_ai.GEN_AI_REQUEST_TOP_K
GEN_AI_REQUEST_STOP_SEQUENCES = _gen_ai.GEN_AI_REQUEST_STOP_SEQUENCES
GEN_AI_REQUEST_FREQUENCY_PENALTY = _gen_ai.GEN_AI_REQUEST_FREQUENCY_PENALTY
GEN_AI_REQUEST_PRESENCE_PENALTY = _gen_ai.GEN_AI_REQUEST_PRESENCE_PENALTY
GEN_AI_RESPONSE_ID = _gen_ai.GEN_AI_RESPONSE_ID
GEN_AI_RESPONSE_MODEL = _gen_ai.GEN_AI_RESPONSE_MODEL
GEN_AI_RESPONSE_FINISH_REASONS = _gen_ai.GEN_AI_RESPONSE_FINISH_REASONS
GEN_AI_TOKEN_TYPE = _gen_ai.GEN_AI_TOKEN_TYPE
GEN_AI_USAGE_INPUT_TOKENS = _gen_ai.GEN_AI_USAGE_INPUT_TOKENS
GEN_AI_USAGE_OUTPUT_TOKENS = _gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS

# --- GenAI conventions added after the floor release (same values as later releases)
GEN_AI_PROVIDER_NAME = "gen_ai.provider.name"
GEN_AI_REQUEST_SEED = "gen_ai.request.seed"
GEN_AI_REQUEST_CHOICE_COUNT = "gen_ai.request.choice.count"
GEN_AI_REQUEST_STREAM = "gen_ai.request.stream"
GEN_AI_REQUEST_ENCODING_FORMATS = "gen_ai.request.encoding_formats"
GEN_AI_OUTPUT_TYPE = "gen_ai.output.type"
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk"
GEN_AI_EMBEDDINGS_DIMENSION_COUNT = "gen_ai.embeddings.dimension.count"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS = "gen_ai.usage.cache_write.input_tokens"
"""Input tokens written to a provider's cache (`cache_creation` in earlier convention text and in LangChain)."""
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS = "gen_ai.usage.reasoning.output_tokens"
GEN_AI_INPUT_MESSAGES = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES = "gen_ai.output.messages"
GEN_AI_SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"
GEN_AI_TOOL_DEFINITIONS = "gen_ai.tool.definitions"
OPENAI_REQUEST_SERVICE_TIER = "openai.request.service_tier"
OPENAI_RESPONSE_SYSTEM_FINGERPRINT = "openai.response.system_fingerprint"
OPENAI_RESPONSE_SERVICE_TIER = "openai.response.service_tier"

# `gen_ai.provider.name` values we set ourselves.
PROVIDER_OPENAI = "openai"
PROVIDER_AZURE_OPENAI = "azure.ai.openai"

# Operation names (`gen_ai.operation.name` values).
OPERATION_CHAT = "chat"
OPERATION_TEXT_COMPLETION = "text_completion"
OPERATION_EMBEDDINGS = "embeddings"

# `gen_ai.token.type` values.
TOKEN_TYPE_INPUT = "input"
TOKEN_TYPE_OUTPUT = "output"

# --- General conventions
SERVER_ADDRESS = _server.SERVER_ADDRESS
SERVER_PORT = _server.SERVER_PORT
ERROR_TYPE = _error.ERROR_TYPE
HTTP_REQUEST_RESEND_COUNT = _http.HTTP_REQUEST_RESEND_COUNT
HTTP_RESPONSE_STATUS_CODE = _http.HTTP_RESPONSE_STATUS_CODE
EXCEPTION_TYPE = _exception.EXCEPTION_TYPE
EXCEPTION_MESSAGE = _exception.EXCEPTION_MESSAGE
EXCEPTION_STACKTRACE = _exception.EXCEPTION_STACKTRACE
EVENT_EXCEPTION = "exception"
TELEMETRY_DISTRO_NAME = _telemetry.TELEMETRY_DISTRO_NAME
"""On the resource: this package's distribution name, as the distro that set up the SDK."""
TELEMETRY_DISTRO_VERSION = _telemetry.TELEMETRY_DISTRO_VERSION
"""On the resource: this package's version."""

# --- Our own names (the conventions have none)
KOTAEMON_STREAM_ABANDONED = "kotaemon.stream.abandoned"
"""True on a streamed call whose caller stopped reading (break, close, `with` exit, garbage collection)."""
KOTAEMON_STREAM_CHUNK_COUNT = "kotaemon.stream.chunk_count"
"""Chunks the caller received from a streamed call that did not run to its end (abandoned or failed)."""

KOTAEMON_SPAN_KIND = "kotaemon.span.kind"
"""What kind of step a span is: llm, embedding, retriever, reranker, tool, agent, pipeline, indexing."""
KOTAEMON_COMPONENT = "kotaemon.component"
"""The qualified class name of the component (or the runnable's name) behind a span."""
KOTAEMON_STEP = "kotaemon.step"
"""The step name inside its pipeline (theflow's node name), where there is one."""
KOTAEMON_STEP_FAILURE = "kotaemon.step.failure"
"""Why a step failed when it reported the failure as a value instead of raising."""
KOTAEMON_DOCUMENT_COUNT = "kotaemon.documents.count"
"""Documents a step returned: retrieved, kept after re-ranking, or indexed."""
KOTAEMON_USAGE_INPUT_TOKENS = "kotaemon.usage.input_tokens"
"""On a root step: input tokens of every model call below it (own name, so backends that sum
`gen_ai.usage.*` over a trace do not count them twice)."""
KOTAEMON_USAGE_OUTPUT_TOKENS = "kotaemon.usage.output_tokens"
"""On a root step: output tokens of every model call below it."""

KOTAEMON_USAGE_INPUT_TOKENS_BY_OPERATION = "kotaemon.usage.{operation}.input_tokens"
"""On a root step: the input tokens of one kind of model call below it (chat, embeddings, text_completion), so
embedding tokens can be told apart from prompt tokens in `kotaemon.usage.input_tokens`."""

# `kotaemon.span.kind` values.
KIND_LLM = "llm"
KIND_EMBEDDING = "embedding"
KIND_RETRIEVER = "retriever"
KIND_RERANKER = "reranker"
KIND_TOOL = "tool"
KIND_AGENT = "agent"
KIND_PIPELINE = "pipeline"
KIND_INDEXING = "indexing"
KIND_APP_EVENT = "app_event"

# More operation names (newer semconv values, plain strings for the floor release).
OPERATION_RETRIEVAL = "retrieval"
OPERATION_EXECUTE_TOOL = "execute_tool"
OPERATION_INVOKE_AGENT = "invoke_agent"
OPERATION_INVOKE_WORKFLOW = "invoke_workflow"
GEN_AI_TOOL_NAME = "gen_ai.tool.name"
GEN_AI_TOOL_DESCRIPTION = "gen_ai.tool.description"
GEN_AI_TOOL_CALL_ID = "gen_ai.tool.call.id"
GEN_AI_TOOL_CALL_ARGUMENTS = "gen_ai.tool.call.arguments"
GEN_AI_TOOL_CALL_RESULT = "gen_ai.tool.call.result"
GEN_AI_TOOL_TYPE = "gen_ai.tool.type"
TOOL_TYPE_FUNCTION = "function"
"""`gen_ai.tool.type` of the tools we trace: the app runs them with arguments the agent chose."""
GEN_AI_AGENT_NAME = "gen_ai.agent.name"
GEN_AI_AGENT_DESCRIPTION = "gen_ai.agent.description"
GEN_AI_WORKFLOW_NAME = "gen_ai.workflow.name"
GEN_AI_RETRIEVAL_QUERY_TEXT = "gen_ai.retrieval.query.text"
GEN_AI_RETRIEVAL_TOP_K = "gen_ai.retrieval.top_k"
"""How many documents a retriever was asked for (on retrieval spans; `gen_ai.request.top_k` is a sampling setting)."""
GEN_AI_RETRIEVAL_DOCUMENTS = "gen_ai.retrieval.documents"
"""The documents a step returned, as JSON `{"id", "score", "content"}` objects (opt-in: content)."""
GEN_AI_PROMPT_NAME = "gen_ai.prompt.name"
GEN_AI_PROMPT_VERSION = "gen_ai.prompt.version"
"""Version of the prompt template behind a model call (LangChain Hub commit, or `prompt_version` metadata)."""
GEN_AI_DATA_SOURCE_ID = "gen_ai.data_source.id"
"""The data source a retriever reads: ktem's file index id."""

# --- Events
EVENT_INFERENCE_DETAILS = "gen_ai.client.inference.operation.details"
EVENT_EVALUATION_RESULT = "gen_ai.evaluation.result"
"""A judgement of an answer (a like, a report), emitted as a log event parented to the answer's span."""

# --- Evaluations (GenAI conventions, plain strings for the floor release; our own names where they have none)
GEN_AI_EVALUATION_NAME = "gen_ai.evaluation.name"
GEN_AI_EVALUATION_SCORE_VALUE = "gen_ai.evaluation.score.value"
GEN_AI_EVALUATION_SCORE_LABEL = "gen_ai.evaluation.score.label"
GEN_AI_EVALUATION_EXPLANATION = "gen_ai.evaluation.explanation"
KOTAEMON_EVALUATION_ISSUES = "kotaemon.evaluation.issues"
"""The issues a report ticked (ktem: `offensive`, `wrong-evidence`): the app's choices, not free text."""
KOTAEMON_EVALUATION_ANSWER_INDEX = "kotaemon.evaluation.answer.index"
"""The place of the judged answer in its conversation: 0 for the answer to the first question."""
KOTAEMON_EVALUATION_ANSWER_UNKNOWN = "kotaemon.evaluation.answer.unknown"
"""True when the judged answer is not known to this process (given before a restart, or long forgotten): the event
then has no parent span, and carries the conversation and the answer's place only."""
# `gen_ai.evaluation.name` and `gen_ai.evaluation.score.label` values of the app's own quality signals
EVALUATION_USER_FEEDBACK = "user_feedback"
"""A like or dislike of an answer (ktem's thumbs up or down): labels `liked`, `disliked` (score 1, 0)."""
EVALUATION_USER_REPORT = "user_report"
"""A report on the last answer (ktem's feedback form): labels `correct`, `incorrect` (score 1, 0)."""
LABEL_LIKED = "liked"
LABEL_DISLIKED = "disliked"
LABEL_CORRECT = "correct"
LABEL_INCORRECT = "incorrect"

# Re-ranking relevance (our own names: re-ranking has no convention yet)
KOTAEMON_RERANK_SCORE_NAME = "kotaemon.rerank.score.name"
"""Which score a re-ranker gave the documents (the metadata key Kotaemon keeps it in: `reranking_score`,
`llm_reranking_score`, `llm_trulens_score`)."""
KOTAEMON_RERANK_DOCUMENT_RANK = "kotaemon.rerank.document.rank"
"""On the relevance metric: `top` for the best-scored document of a re-ranking, `other` for the rest."""
RANK_TOP = "top"
RANK_OTHER = "other"

# --- Metrics
METRIC_OPERATION_DURATION = _gen_ai_metrics.GEN_AI_CLIENT_OPERATION_DURATION
METRIC_TOKEN_USAGE = _gen_ai_metrics.GEN_AI_CLIENT_TOKEN_USAGE
METRIC_TIME_TO_FIRST_CHUNK = "gen_ai.client.operation.time_to_first_chunk"
METRIC_TIME_PER_OUTPUT_CHUNK = "gen_ai.client.operation.time_per_output_chunk"
METRIC_INVOKE_WORKFLOW_DURATION = "gen_ai.invoke_workflow.duration"
"""A workflow's duration: `gen_ai.workflow.duration` before the conventions renamed it (semantic-conventions-genai
#341). Recorded by pipelines and chains (`invoke_workflow` spans), never by a wrapper inside a chain."""
METRIC_INVOKE_AGENT_DURATION = "gen_ai.invoke_agent.duration"
METRIC_EXECUTE_TOOL_DURATION = "gen_ai.execute_tool.duration"
METRIC_STREAMS_ABANDONED = "kotaemon.streams.abandoned"
METRIC_ERRORS = "kotaemon.errors"
METRIC_RETRIEVAL_DOCUMENTS = "kotaemon.retrieval.documents"
METRIC_RETRIEVAL_EMPTY = "kotaemon.retrieval.empty"
METRIC_RERANK_DOCUMENTS = "kotaemon.rerank.documents"
METRIC_INDEXING_DOCUMENTS = "kotaemon.indexing.documents"
METRIC_INDEXING_CHUNKS = "kotaemon.indexing.chunks"
METRIC_LOG_REDACTION_FAILURES = "kotaemon.log_records.redaction_failures"
"""Log records dropped, not exported, because their redaction failed (by `error.type`)."""
METRIC_EXPORT_QUEUED = "kotaemon.export.queued"
"""Spans and log records the collector did not take at once, kept to be sent again (by `kotaemon.export.signal`)."""
METRIC_EXPORT_RETRIED = "kotaemon.export.retried"
"""Spans and log records sent again (each attempt after the first counts them)."""
METRIC_EXPORT_DELIVERED_AFTER_RETRY = "kotaemon.export.delivered_after_retry"
"""Spans and log records the collector took on a later attempt."""
METRIC_EXPORT_DROPPED = "kotaemon.export.dropped"
"""Spans and log records never delivered, by `error.type`: `bad_data` (the collector rejected them), `bound` (past
the size or age bound, oldest first), `exit` (still held when the app ended, without a spool)."""
METRIC_EXPORT_SPOOLED = "kotaemon.export.spooled"
"""Spans and log records written to the spool directory while the collector was away."""
KOTAEMON_EXPORT_SIGNAL = "kotaemon.export.signal"
"""On the export metrics: `traces` or `logs`."""
DROP_REASON_BAD_DATA = "bad_data"
DROP_REASON_BOUND = "bound"
DROP_REASON_EXIT = "exit"
METRIC_RERANK_RELEVANCE = "kotaemon.rerank.relevance"
METRIC_EVALUATIONS = "kotaemon.evaluations"
# Duration of each kind of step, in seconds: the conventions' metrics for tools, agents and workflows, ours for the
# RAG steps they have none for (Prometheus: gen_ai_execute_tool_duration_seconds, kotaemon_retrieval_duration_seconds
# and so on).
STEP_DURATION_METRICS = {
    KIND_RETRIEVER: "kotaemon.retrieval.duration",
    KIND_RERANKER: "kotaemon.rerank.duration",
    KIND_TOOL: METRIC_EXECUTE_TOOL_DURATION,
    KIND_AGENT: METRIC_INVOKE_AGENT_DURATION,
    KIND_PIPELINE: METRIC_INVOKE_WORKFLOW_DURATION,
    KIND_INDEXING: "kotaemon.indexing.duration",
}

# --- Metric names of convention changes still open (semantic-conventions-genai pull requests), emitted only when
# `OTEL_SEMCONV_STABILITY_OPT_IN` asks for them (`gen_ai_next_experimental`, or `gen_ai_next_experimental/dup` for
# both); each replaces a merged name above once its change is merged.
METRIC_INFERENCE_DURATION = "gen_ai.client.inference.duration"
"""#521: `gen_ai.client.operation.duration` of chat and text completion calls (embeddings keep the old name)."""
METRIC_INFERENCE_TIME_TO_FIRST_CHUNK = "gen_ai.client.inference.time_to_first_chunk"
"""#521: `gen_ai.client.operation.time_to_first_chunk`."""
METRIC_INFERENCE_TIME_PER_OUTPUT_CHUNK = "gen_ai.client.inference.time_per_output_chunk"
"""#521: `gen_ai.client.operation.time_per_output_chunk`."""
METRIC_INFERENCE_USAGE_INPUT_TOKENS = "gen_ai.client.inference.usage.input_tokens"
"""#374: a counter of the input tokens of chat and text completion calls, by `gen_ai.token.modality`; with the
counters below and the per-call histograms it replaces `gen_ai.client.token.usage` for them."""
METRIC_INFERENCE_USAGE_OUTPUT_TOKENS = "gen_ai.client.inference.usage.output_tokens"
METRIC_INFERENCE_USAGE_CACHE_READ_INPUT_TOKENS = "gen_ai.client.inference.usage.cache_read.input_tokens"
METRIC_INFERENCE_USAGE_CACHE_WRITE_INPUT_TOKENS = "gen_ai.client.inference.usage.cache_write.input_tokens"
METRIC_INFERENCE_USAGE_REASONING_OUTPUT_TOKENS = "gen_ai.client.inference.usage.reasoning.output_tokens"
METRIC_INFERENCE_OPERATION_INPUT_TOKENS = "gen_ai.client.inference.operation.input_tokens"
"""#374: a histogram of the input tokens per call (for percentiles; the counters are for totals)."""
METRIC_INFERENCE_OPERATION_OUTPUT_TOKENS = "gen_ai.client.inference.operation.output_tokens"
GEN_AI_TOKEN_MODALITY = "gen_ai.token.modality"
"""#374: the modality of the tokens a usage counter counts."""
TOKEN_MODALITY_UNKNOWN = "unknown"
"""`gen_ai.token.modality` of every count we record: providers report totals, not a split by modality."""
METRIC_INVOCATION_DURATION = "gen_ai.invocation.duration"
"""#571: the duration of agent and workflow invocations, replacing `gen_ai.invoke_agent.duration` and
`gen_ai.invoke_workflow.duration`; by `gen_ai.operation.name` and `gen_ai.invocation.is_nested`."""
GEN_AI_INVOCATION_IS_NESTED = "gen_ai.invocation.is_nested"
"""#571: whether an invocation runs inside another (an agent in a workflow); false for the end-to-end turn."""

# --- Kotaemon components (our own names where the conventions have none)
KOTAEMON_RETRIEVAL_MODE = "kotaemon.retrieval.mode"
"""How a retriever searched: vector, text or hybrid."""
KOTAEMON_DOCUMENT_IDS = "kotaemon.documents.ids"
"""Ids of the documents a retriever or re-ranker returned, in order."""
KOTAEMON_DOCUMENT_SCORES = "kotaemon.documents.scores"
"""Scores of the returned documents, in order (retrieval score, or the re-ranker's score)."""
KOTAEMON_RERANK_INPUT_COUNT = "kotaemon.rerank.input_count"
"""Documents handed to a re-ranker."""
KOTAEMON_RERANK_QUERY = "kotaemon.rerank.query"
"""The query a re-ranker ranked against (content: captured only when content capture is on)."""
KOTAEMON_AGENT_TYPE = "kotaemon.agent.type"
"""Kotaemon's agent type (react, rewoo, openai...)."""
KOTAEMON_AGENT_TOOLS = "kotaemon.agent.tools"
"""Names of the tools an agent may call."""
KOTAEMON_AGENT_MAX_ITERATIONS = "kotaemon.agent.max_iterations"
KOTAEMON_AGENT_ITERATIONS = "kotaemon.agent.iterations"
"""Tool-using steps an agent took."""
KOTAEMON_AGENT_STATUS = "kotaemon.agent.status"
"""The agent's final status: finished, stopped, failed (or thinking when its stream was left early)."""
KOTAEMON_AGENT_INPUT = "kotaemon.agent.input"
"""The instruction given to an agent (content)."""
KOTAEMON_AGENT_OUTPUT = "kotaemon.agent.output"
"""The agent's answer (content)."""
KOTAEMON_INPUT_COUNT = "kotaemon.input.count"
"""Items (texts, documents, files) handed to an embedding or indexing step."""

# --- LangChain (our own names where the conventions have none)
KOTAEMON_FALLBACK_BRANCH = "kotaemon.fallback.branch"
"""Which branch of a fallback wrapper produced the answer: primary or fallback."""
KOTAEMON_FALLBACK_INDEX = "kotaemon.fallback.index"
"""Index of the branch that ran last: 0 for the primary, n for the n-th fallback."""
KOTAEMON_FALLBACK_PRIMARY_ERROR = "kotaemon.fallback.primary_error"
"""`error.type` of the failure that made the primary give way to the fallbacks."""
KOTAEMON_RETRY_ATTEMPTS = "kotaemon.retry.attempts"
"""Attempts a retry wrapper made (1 when the first one succeeded)."""
KOTAEMON_INDEXING_FAILED_COUNT = "kotaemon.indexing.failed_count"
"""Files an indexing pipeline reported as failed (ktem indexes file by file and reports failures as values)."""
KOTAEMON_RETRIEVAL_SKIPPED = "kotaemon.retrieval.skipped"
"""True on a retrieval the app gave nothing to search (ktem: no file of its index selected); not in the metrics."""
KOTAEMON_INDEXING_CHUNK_COUNT = "kotaemon.indexing.chunk_count"
"""Chunks a file was split into and stored (ktem's `IndexPipeline`, one per file)."""

# --- Conversation and user (general and GenAI conventions, plain strings for the floor release)
GEN_AI_CONVERSATION_ID = "gen_ai.conversation.id"
USER_ID = "user.id"
SESSION_ID = "session.id"

# --- Web app events (a Gradio queue event: what the user did in the UI; our own names)
KOTAEMON_APP_FRAMEWORK = "kotaemon.app.framework"
"""The UI framework that ran the event (gradio)."""
KOTAEMON_APP_EVENT_NAME = "kotaemon.app.event.name"
"""The event's API name (else its function's name): what the user did."""
KOTAEMON_APP_EVENT_FUNCTION = "kotaemon.app.event.function"
"""The name of the function the event ran."""
KOTAEMON_APP_EVENT_ID = "kotaemon.app.event.id"
"""The framework's id of the event."""
KOTAEMON_APP_EVENT_STATUS = "kotaemon.app.event.status"
"""How the event ended, as the framework reported it (success, failed, cancelled)."""
KOTAEMON_APP_EVENT_BATCH_SIZE = "kotaemon.app.event.batch_size"
"""How many events one call of a batched event function processed (on the batch's span)."""

# --- Model Context Protocol (the MCP part of the GenAI conventions; none of it is in the floor release)
MCP_METHOD_NAME = "mcp.method.name"
MCP_SESSION_ID = "mcp.session.id"
MCP_PROTOCOL_VERSION = "mcp.protocol.version"
MCP_RESOURCE_URI = "mcp.resource.uri"
JSONRPC_REQUEST_ID = "jsonrpc.request.id"
RPC_RESPONSE_STATUS_CODE = "rpc.response.status_code"
NETWORK_TRANSPORT = "network.transport"
NETWORK_PROTOCOL_NAME = "network.protocol.name"
CLIENT_ADDRESS = "client.address"
CLIENT_PORT = "client.port"
ERROR_TYPE_TOOL_ERROR = "tool_error"
"""`error.type` of a tool call whose result says it failed (an MCP `CallToolResult` with `isError`)."""
METRIC_MCP_CLIENT_OPERATION_DURATION = "mcp.client.operation.duration"
METRIC_MCP_SERVER_OPERATION_DURATION = "mcp.server.operation.duration"

# --- Jaeger's client tags on kept root spans (Jaeger's adaptive sampling counts roots by them) and the resource
SAMPLER_TYPE = "sampler.type"
SAMPLER_PARAM = "sampler.param"
SERVICE_INSTANCE_ID = "service.instance.id"
