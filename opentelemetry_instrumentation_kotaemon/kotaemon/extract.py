"""Read Kotaemon components, their arguments and results into records. No patching, no spans here.

Components are theflow `Function`s: reading a Param through its descriptor may compute an auto Param (loading a
model), consult theflow's context, or return theflow's falsy `unset` sentinel. So values are read from the set
values theflow keeps in `_attrx`, then from a plain declared default, never through `getattr` or `params`.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .. import attributes as attr
from ..core.records import ModelCall, OutputMessage, StepCall, ToolCall
from ..core.values import number

_MISSING = object()

# Family bases, by `module.QualName` (matched along the MRO, so ktem and optional modules need not be imported).
_LLM_BASES = frozenset(
    {
        "kotaemon.llms.base.BaseLLM",
        "kotaemon.llms.chats.langchain_based.LCChatMixin",
        "kotaemon.llms.completions.langchain_based.LCCompletionMixin",
    }
)
_COMPLETION_BASES = frozenset(
    {"kotaemon.llms.completions.base.LLM", "kotaemon.llms.completions.langchain_based.LCCompletionMixin"}
)
_EMBEDDING_BASES = frozenset(
    {"kotaemon.embeddings.base.BaseEmbeddings", "kotaemon.embeddings.langchain_based.LCEmbeddingMixin"}
)
_RERANKER_BASES = frozenset({"kotaemon.rerankings.base.BaseReranking", "kotaemon.indices.rankings.base.BaseReranking"})
_RETRIEVER_BASES = frozenset(
    {
        "kotaemon.indices.base.BaseRetrieval",
        "kotaemon.indices.retrievers.jina_web_search.WebSearch",
        "kotaemon.indices.retrievers.tavily_web_search.WebSearch",
        "ktem.index.file.base.BaseFileIndexRetriever",
    }
)
_AGENT_BASES = frozenset({"kotaemon.agents.base.BaseAgent"})
_TOOL_BASES = frozenset({"kotaemon.agents.tools.base.BaseTool"})
_INDEXING_BASES = frozenset(
    {
        "kotaemon.indices.base.BaseIndexing",
        "kotaemon.indices.ingests.files.DocumentIngestor",
        "ktem.index.file.base.BaseFileIndexIndexing",
        "ktem.index.file.pipelines.IndexPipeline",
    }
)
# Pipelines traced wherever they run (other components only at the top, unless every step is traced).
_PIPELINE_BASES = frozenset(
    {
        "kotaemon.indices.qa.citation.CitationPipeline",
        "kotaemon.indices.qa.citation_qa.AnswerWithContextPipeline",
        "kotaemon.indices.vectorindex.TextVectorQA",
        "kotaemon.llms.linear.SimpleLinearPipeline",
        "kotaemon.llms.branching.SimpleBranchingPipeline",
        "kotaemon.llms.cot.Thought",
        "kotaemon.llms.cot.ManualSequentialChainOfThought",
        "ktem.reasoning.base.BaseReasoning",
    }
)

MODEL_METHODS = frozenset({"run", "invoke", "ainvoke", "stream", "astream"})
STEP_METHODS = frozenset({"run"})
GENERATOR_STEP_METHODS = frozenset({"run", "stream"})

# Provider by a fragment of the component class name (first match wins).
_PROVIDERS = (
    ("azure", "azure.ai.openai"),
    ("openai", "openai"),
    ("anthropic", "anthropic"),
    ("gemini", "gcp.gemini"),
    ("google", "gcp.gemini"),
    ("cohere", "cohere"),
    ("ollama", "ollama"),
    ("mistral", "mistral_ai"),
    ("voyage", "voyageai"),
    ("llamacpp", "llama_cpp"),
    ("fastembed", "fastembed"),
    ("huggingface", "huggingface"),
)


def class_key(cls: type) -> str:
    """`module.QualName` of a class: the value of `kotaemon.component`."""
    return f"{cls.__module__}.{cls.__qualname__}"


@dataclass(frozen=True)
class Family:
    """What a component class is, and which of its methods make a span."""

    kind: str
    methods: frozenset[str]
    always: bool = True
    """False for plain components: traced only at the top (or when every step is traced)."""
    completion: bool = False


def family_of(cls: type) -> Family:
    """The family of a component class, decided by the bases along its MRO."""
    keys = {class_key(base) for base in cls.__mro__}
    if keys & _LLM_BASES:
        return Family(attr.KIND_LLM, MODEL_METHODS, completion=bool(keys & _COMPLETION_BASES))
    if keys & _EMBEDDING_BASES:
        return Family(attr.KIND_EMBEDDING, MODEL_METHODS)
    if keys & _RERANKER_BASES:
        return Family(attr.KIND_RERANKER, STEP_METHODS)
    if keys & _RETRIEVER_BASES:
        return Family(attr.KIND_RETRIEVER, STEP_METHODS)
    if keys & _TOOL_BASES:
        return Family(attr.KIND_TOOL, STEP_METHODS)
    if keys & _AGENT_BASES:
        return Family(attr.KIND_AGENT, GENERATOR_STEP_METHODS)
    if keys & _INDEXING_BASES:
        return Family(attr.KIND_INDEXING, GENERATOR_STEP_METHODS)
    return Family(attr.KIND_PIPELINE, MODEL_METHODS, always=bool(keys & _PIPELINE_BASES))


# --- reading component state without side effects


def _is_sentinel(value: Any) -> bool:
    return type(value).__name__ in ("unset_", "lazy")


def setting(obj: Any, name: str) -> Any:
    """A Param or plain attribute of a component, or None: never computed, never `unset`."""
    state = getattr(obj, "__dict__", {})
    stored = state.get("_attrx")
    value: Any = _MISSING
    if isinstance(stored, dict):
        for section in ("ParamAttr", "AllowExtraParam"):
            values = stored.get(section)
            if isinstance(values, dict) and name in values:
                value = values[name]
                break
    if value is _MISSING and name in state:
        value = state[name]
    if value is _MISSING:
        for klass in type(obj).__mro__:
            declared = klass.__dict__.get(name, _MISSING)
            if declared is _MISSING:
                continue
            if hasattr(declared, "_auto_callback") and hasattr(declared, "_default"):
                # a theflow Param: use its plain default, never an auto or default callback
                value = None if not _is_sentinel(declared._auto_callback) else declared._default
            elif not callable(declared) and not isinstance(declared, (property, classmethod, staticmethod)):
                value = declared
            break
    if value is _MISSING or _is_sentinel(value):
        return None
    return value


def lc_setting(obj: Any, *names: str) -> Any:
    """A value the LangChain-based wrappers keep in their `_kwargs` (where declared Params would shadow it)."""
    kwargs = getattr(obj, "__dict__", {}).get("_kwargs")
    if not isinstance(kwargs, dict):
        return None
    for name in names:
        value = kwargs.get(name)
        if value is not None and not _is_sentinel(value):
            return value
    return None


def first_setting(obj: Any, *names: str) -> Any:
    for name in names:
        value = lc_setting(obj, name)
        if value is None:
            value = setting(obj, name)
        if value is not None:
            return value
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _strings(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def step_name(obj: Any) -> str | None:
    """theflow's name for this component in the pipeline running it on this thread ("" at a root)."""
    backend = getattr(obj, "__dict__", {}).get("fl")
    try:
        name = backend.name if backend is not None else None
    except Exception:
        return None
    return name if isinstance(name, str) and name else None


def bind(method: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The call's arguments by parameter name (callers use both positional and keyword styles)."""
    try:
        signature = inspect.signature(method)
        bound = signature.bind_partial(*args, **kwargs)
    except (TypeError, ValueError):
        return dict(kwargs)
    values = dict(bound.arguments)
    for name, parameter in signature.parameters.items():
        if parameter.kind is inspect.Parameter.VAR_KEYWORD and isinstance(values.get(name), dict):
            values.update(values.pop(name))
    return values


def _first_argument(args: tuple[Any, ...], kwargs: dict[str, Any], *names: str) -> Any:
    for name in names:
        if name in kwargs:
            return kwargs[name]
    return args[0] if args else None


def _server(call: ModelCall, url: Any) -> None:
    if not isinstance(url, str) or not url:
        return
    try:
        parts = urlsplit(url)
        call.server_address = parts.hostname or None
        call.server_port = parts.port or {"https": 443, "http": 80}.get(parts.scheme)
    except ValueError:
        return


def _provider(cls: type) -> str:
    name = class_key(cls).lower()
    for fragment, provider in _PROVIDERS:
        if fragment in name:
            return provider
    return "kotaemon"


def _message_parts(messages: Any) -> list[dict[str, Any]]:
    """Input messages in the GenAI JSON shape, from a str, one message or a list of them."""
    if isinstance(messages, str):
        return [{"role": "user", "parts": [{"type": "text", "content": messages}]}]
    items = messages if isinstance(messages, (list, tuple)) else [messages]
    out = []
    for message in items:
        if isinstance(message, str):
            out.append({"role": "user", "parts": [{"type": "text", "content": message}]})
            continue
        role = {"system": "system", "human": "user", "ai": "assistant"}.get(getattr(message, "type", ""), "user")
        content = getattr(message, "content", None)
        text = content if isinstance(content, str) else str(getattr(message, "text", "") or "")
        out.append({"role": role, "parts": [{"type": "text", "content": text}]})
    return out


# --- model calls (LLMs and embeddings)


def model_call(
    obj: Any, family: Family, method: str, args: tuple[Any, ...], kwargs: dict[str, Any], content: bool
) -> ModelCall:
    """The request record of an LLM or embedding call on a Kotaemon component."""
    cls = type(obj)
    if family.kind == attr.KIND_EMBEDDING:
        operation = attr.OPERATION_EMBEDDINGS
    else:
        operation = attr.OPERATION_TEXT_COMPLETION if family.completion else attr.OPERATION_CHAT
    model = first_setting(obj, "model", "model_name", "azure_deployment", "deployment_name", "deployment")
    call = ModelCall(
        operation=operation,
        provider=_provider(cls),
        request_model=model if isinstance(model, str) else None,
        component=class_key(cls),
        streaming=method in ("stream", "astream"),
    )
    name = step_name(obj)
    if name:
        call.attributes[attr.KOTAEMON_STEP] = name
    _server(call, first_setting(obj, "base_url", "openai_api_base", "azure_endpoint", "endpoint_url"))
    if operation == attr.OPERATION_EMBEDDINGS:
        dimensions = number(setting(obj, "dimensions"))
        if isinstance(dimensions, int):
            call.embedding_dimensions = dimensions
        return call

    # call kwargs override the component's settings at request time
    def pick(name: str) -> Any:
        value = kwargs.get(name)
        return value if value is not None else first_setting(obj, name)

    call.temperature = number(pick("temperature"))
    call.top_p = number(pick("top_p"))
    max_tokens = number(pick("max_tokens"))
    call.max_tokens = max_tokens if isinstance(max_tokens, int) else None
    call.stop_sequences = _strings(pick("stop"))
    count = number(pick("n"))
    call.choice_count = count if isinstance(count, int) and count != 1 else None
    call.frequency_penalty = number(pick("frequency_penalty"))
    call.presence_penalty = number(pick("presence_penalty"))
    if content:
        messages = _first_argument(args, kwargs, "messages", "text")
        if messages is not None:
            call.input_messages = _message_parts(messages)
        tools = pick("tools")
        if isinstance(tools, list) and tools:
            call.tool_definitions = tools
    return call


def llm_result(call: ModelCall, result: Any, content: bool) -> None:
    """Fill the record from an `LLMInterface`: tokens only where no lower layer reported them."""
    prompt = number(getattr(result, "prompt_tokens", None))
    completion = number(getattr(result, "completion_tokens", None))
    if call.input_tokens is None and isinstance(prompt, int) and prompt > 0:
        call.input_tokens = prompt
    if call.output_tokens is None and isinstance(completion, int) and completion > 0:
        call.output_tokens = completion
    if content and call.output_messages is None:
        text = getattr(result, "text", None)
        message = OutputMessage(text=text if isinstance(text, str) else "")
        extra = getattr(result, "additional_kwargs", None)
        tool_calls = extra.get("tool_calls") if isinstance(extra, dict) else None
        for tool_call in tool_calls if isinstance(tool_calls, list) else ():
            function = tool_call.get("function") if isinstance(tool_call, dict) else None
            if isinstance(function, dict):
                message.tool_calls.append(
                    ToolCall(id=tool_call.get("id"), name=function.get("name"), arguments=function.get("arguments", ""))
                )
        call.output_messages = [message]


def embedding_result(call: ModelCall, result: Any) -> None:
    if call.embedding_dimensions is None and isinstance(result, list) and result:
        vector = getattr(result[0], "embedding", None)
        if isinstance(vector, list):
            call.embedding_dimensions = len(vector)


class StreamText:
    """Collects the text of streamed `LLMInterface` chunks into the record, when content is captured."""

    __slots__ = ("call", "parts")

    def __init__(self, call: ModelCall) -> None:
        self.call = call
        self.parts: list[str] = []

    def add(self, chunk: Any) -> None:
        text = getattr(chunk, "text", None)
        if isinstance(text, str):
            self.parts.append(text)
            self.call.output_messages = [OutputMessage(text="".join(self.parts))]


# --- steps


def _count(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return len(value)
    return 1


def _documents(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else []


def _doc_id(doc: Any) -> str | None:
    value = getattr(doc, "doc_id", None) or getattr(doc, "id_", None)
    return value if isinstance(value, str) else None


def _document_json(doc: Any) -> dict[str, Any]:
    text = getattr(doc, "text", None)
    item: dict[str, Any] = {"id": _doc_id(doc), "content": text if isinstance(text, str) else str(doc)}
    score = number(getattr(doc, "score", None))
    if score is not None:
        item["score"] = score
    return item


def _rerank_score(doc: Any) -> float | None:
    metadata = getattr(doc, "metadata", None)
    if isinstance(metadata, dict):
        for key in ("reranking_score", "llm_reranking_score", "llm_trulens_score"):
            value = number(metadata.get(key))
            if value is not None:
                return float(value)
    return None


def _ids_and_scores(documents: list[Any], values: dict[str, Any], reranked: bool) -> None:
    ids = [_doc_id(d) for d in documents]
    if ids and all(ids):
        values[attr.KOTAEMON_DOCUMENT_IDS] = ids
    scores = [_rerank_score(d) if reranked else number(getattr(d, "score", None)) for d in documents]
    if scores and all(s is not None for s in scores):
        values[attr.KOTAEMON_DOCUMENT_SCORES] = [float(s) for s in scores]  # type: ignore[arg-type]


def new_step(obj: Any, family: Family) -> StepCall:
    cls = type(obj)
    operation = {
        attr.KIND_RETRIEVER: attr.OPERATION_RETRIEVAL,
        attr.KIND_TOOL: attr.OPERATION_EXECUTE_TOOL,
        attr.KIND_AGENT: attr.OPERATION_INVOKE_AGENT,
        attr.KIND_PIPELINE: attr.OPERATION_INVOKE_WORKFLOW,
    }.get(family.kind)
    step = StepCall(kind=family.kind, name=cls.__name__, operation=operation, component=class_key(cls), owner=obj)
    name = step_name(obj)
    if name:
        step.attributes[attr.KOTAEMON_STEP] = name
    if family.kind == attr.KIND_PIPELINE:
        step.attributes[attr.GEN_AI_WORKFLOW_NAME] = cls.__name__
    return step


def describe_step(step: StepCall, obj: Any, arguments: dict[str, Any], content: bool) -> None:
    """Fill the request side of a step from the component and the call's arguments (bound by name)."""
    kind = step.kind
    values = step.attributes
    if kind == attr.KIND_RETRIEVER:
        top_k = number(arguments.get("top_k")) or number(setting(obj, "top_k"))
        if top_k is not None:
            values[attr.GEN_AI_REQUEST_TOP_K] = top_k
        mode = _text(setting(obj, "retrieval_mode"))
        if mode:
            values[attr.KOTAEMON_RETRIEVAL_MODE] = mode
        if content:
            query = arguments.get("text", arguments.get("query"))
            query = getattr(query, "text", query)
            if isinstance(query, str):
                step.content[attr.GEN_AI_RETRIEVAL_QUERY_TEXT] = query
    elif kind == attr.KIND_RERANKER:
        model = _text(setting(obj, "model_name")) or _text(setting(obj, "model"))
        if model:
            values[attr.GEN_AI_REQUEST_MODEL] = model
        top_k = number(setting(obj, "top_k"))
        if top_k is not None:
            values[attr.GEN_AI_REQUEST_TOP_K] = top_k
        count = _count(arguments.get("documents"))
        if count is not None:
            values[attr.KOTAEMON_RERANK_INPUT_COUNT] = count
        if content and isinstance(arguments.get("query"), str):
            step.content[attr.KOTAEMON_RERANK_QUERY] = arguments["query"]
    elif kind == attr.KIND_TOOL:
        name = _text(setting(obj, "name"))
        if name:
            step.tool_name = step.name = name
        description = _text(setting(obj, "description"))
        if description:
            values[attr.GEN_AI_TOOL_DESCRIPTION] = description
        if content:
            tool_input = arguments.get("tool_input")
            if tool_input is not None:
                step.content[attr.GEN_AI_TOOL_CALL_ARGUMENTS] = tool_input
    elif kind == attr.KIND_AGENT:
        name = _text(setting(obj, "name"))
        if name:
            step.name = name
            values[attr.GEN_AI_AGENT_NAME] = name
        description = _text(setting(obj, "description"))
        if description:
            values[attr.GEN_AI_AGENT_DESCRIPTION] = description
        agent_type = getattr(setting(obj, "agent_type"), "value", None)
        if isinstance(agent_type, str):
            values[attr.KOTAEMON_AGENT_TYPE] = agent_type
        tools = setting(obj, "plugins")
        names = [setting(tool, "name") for tool in tools] if isinstance(tools, (list, tuple)) else []
        if names and all(isinstance(n, str) for n in names):
            values[attr.KOTAEMON_AGENT_TOOLS] = names
        iterations = number(arguments.get("max_iterations")) or number(setting(obj, "max_iterations"))
        if iterations is not None:
            values[attr.KOTAEMON_AGENT_MAX_ITERATIONS] = iterations
        if content:
            instruction = arguments.get("instruction", next(iter(arguments.values()), None))
            if isinstance(instruction, str):
                step.content[attr.KOTAEMON_AGENT_INPUT] = instruction
    elif kind == attr.KIND_INDEXING:
        items = next((v for k, v in arguments.items() if k not in ("self", "reindex")), None)
        count = _count(items)
        if count is not None:
            values[attr.KOTAEMON_INPUT_COUNT] = count
            step.documents = count


def step_result(step: StepCall, result: Any, content: bool) -> None:
    """Fill the result side of a step from what it returned."""
    kind = step.kind
    values = step.result_attributes
    if kind in (attr.KIND_RETRIEVER, attr.KIND_RERANKER):
        documents = _documents(result)
        step.documents = len(documents) if isinstance(result, (list, tuple)) else None
        _ids_and_scores(documents, values, reranked=kind == attr.KIND_RERANKER)
        if content and documents:
            step.result_content[attr.GEN_AI_RETRIEVAL_DOCUMENTS] = [_document_json(d) for d in documents]
    elif kind == attr.KIND_TOOL:
        if content and result is not None:
            text = getattr(result, "text", result)
            step.result_content[attr.GEN_AI_TOOL_CALL_RESULT] = text if isinstance(text, str) else str(text)
    elif kind == attr.KIND_AGENT:
        agent_output(step, result, content)


def agent_output(step: StepCall, output: Any, content: bool) -> None:
    """Read an `AgentOutput` (returned or streamed): status, iterations, and a failure reported as a value."""
    status = getattr(output, "status", None)
    if not isinstance(status, str):
        return
    step.result_attributes[attr.KOTAEMON_AGENT_STATUS] = status
    steps = getattr(output, "intermediate_steps", None)
    if isinstance(steps, list):
        step.result_attributes[attr.KOTAEMON_AGENT_ITERATIONS] = len(steps)
    if status == "failed":
        error = getattr(output, "error", None)
        step.failure = error if isinstance(error, str) and error else "failed"
    if content:
        text = getattr(output, "text", None)
        if isinstance(text, str) and text:
            step.result_content[attr.KOTAEMON_AGENT_OUTPUT] = text
