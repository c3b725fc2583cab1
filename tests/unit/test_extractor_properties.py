"""The LangChain and Kotaemon extractors read arbitrary shapes without raising, into valid, capped attributes.

Real langchain-core messages, generations, results and documents (and the Kotaemon stand-in's records), built from
arbitrary content, mixed with arbitrary junk where the extractors accept anything.
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from langchain_core.documents import Document
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, Generation, LLMResult

from opentelemetry_instrumentation_kotaemon import attributes as attr
from opentelemetry_instrumentation_kotaemon.core.spans import ModelCall, Step
from opentelemetry_instrumentation_kotaemon.core.telemetry import Telemetry
from opentelemetry_instrumentation_kotaemon.kotaemon import classify, models
from opentelemetry_instrumentation_kotaemon.kotaemon import steps as kotaemon_steps
from opentelemetry_instrumentation_kotaemon.langchain import extract as langchain
from opentelemetry_instrumentation_kotaemon.settings import ContentMode, Settings
from tests.kotaemon_standin import use

use()
from kotaemon.agents.io.base import AgentOutput, AgentType  # noqa: E402
from kotaemon.base.schema import Document as KotaemonDocument  # noqa: E402
from kotaemon.base.schema import LLMInterface, RetrievedDocument  # noqa: E402

CAP = 64
TRUNCATION = len("...[truncated 9999999 chars]")
INT64 = (-(2**63), 2**63 - 1)
PROPERTIES = settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)

_telemetry = Telemetry(Settings(content_mode=ContentMode.SPAN_AND_EVENT, content_max_length=CAP))

# --- strategies

_KEYS = [
    "id",
    "name",
    "type",
    "text",
    "content",
    "model",
    "model_name",
    "ls_provider",
    "ls_model_name",
    "ls_temperature",
    "ls_max_tokens",
    "ls_stop",
    "_type",
    "temperature",
    "max_tokens",
    "stop",
    "n",
    "seed",
    "top_p",
    "stream",
    "streaming",
    "token_usage",
    "usage",
    "prompt_tokens",
    "completion_tokens",
    "input_tokens",
    "output_tokens",
    "finish_reason",
    "system_fingerprint",
    "tool_calls",
    "tool_call_id",
    "function",
    "arguments",
    "args",
    "description",
    "metadata",
    "invocation_params",
    "inputs",
    "lc_hub_repo",
    "lc_hub_commit_hash",
    "prompt_name",
    "prompt_version",
    "score",
    "reranking_score",
    "doc_id",
    "status",
    "error",
    "top_k",
    "query",
    "documents",
]
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=20),
    st.text(min_size=CAP, max_size=3 * CAP),
)
junk = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(st.sampled_from(_KEYS), inner, max_size=5),
        st.dictionaries(st.sampled_from(_KEYS), inner, max_size=5).map(lambda d: SimpleNamespace(**d)),
    ),
    max_leaves=15,
)
junk_dicts = st.dictionaries(st.sampled_from(_KEYS), junk, max_size=6)
text = st.text(max_size=3 * CAP)
content = st.one_of(
    text,
    st.lists(
        st.one_of(
            text,
            st.builds(lambda t: {"type": "text", "text": t}, text),
            st.builds(lambda u: {"type": "image_url", "image_url": {"url": u}}, text),
        ),
        max_size=3,
    ),
)
tool_calls = st.lists(
    st.builds(lambda name, args, id_: {"name": name, "args": args, "id": id_}, text, junk_dicts, text), max_size=2
)
messages = st.one_of(
    st.builds(HumanMessage, content=content),
    st.builds(SystemMessage, content=content),
    st.builds(AIMessage, content=content, tool_calls=tool_calls),
    st.builds(ToolMessage, content=content, tool_call_id=text),
)
generation_info = st.one_of(st.none(), junk_dicts)
generations = st.one_of(
    st.builds(Generation, text=text, generation_info=generation_info),
    st.builds(
        ChatGeneration,
        message=st.builds(AIMessage, content=content, tool_calls=tool_calls),
        generation_info=generation_info,
    ),
)
llm_results = st.builds(
    LLMResult,
    generations=st.lists(st.lists(generations, max_size=3), max_size=2),
    llm_output=st.one_of(st.none(), junk_dicts),
)
documents = st.builds(Document, page_content=text, metadata=junk_dicts)
serialized = st.one_of(st.none(), junk_dicts)
run_kwargs = st.fixed_dictionaries(
    {},
    optional={
        "name": junk,
        "metadata": st.one_of(junk_dicts, junk),
        "invocation_params": st.one_of(junk_dicts, junk),
        "inputs": st.one_of(junk_dicts, junk),
    },
)

# --- what every extracted attribute must be


def _assert_valid(values: dict[str, Any], capped: bool = False) -> None:
    for key, value in values.items():
        items = value if isinstance(value, (list, tuple)) else [value]
        assert isinstance(key, str) and all(isinstance(v, (str, bool, int, float)) for v in items), (key, value)
        assert len({type(v) for v in items}) <= 1, (key, value)
        assert all(INT64[0] <= v <= INT64[1] for v in items if isinstance(v, int)), (key, value)
        if capped:
            assert all(len(v) <= CAP + TRUNCATION for v in items if isinstance(v, str)), (key, len(value))


def _assert_model_call(call: ModelCall) -> None:
    _assert_valid(call.start_attributes() | call.request_attributes() | call.end_attributes(failed=True))
    _assert_valid(_telemetry.content.attributes(call.start_content() | call.end_content()), capped=True)


def _assert_step(step: Step) -> None:
    _assert_valid(step.start_attributes() | step.end_attributes())
    _assert_valid(_telemetry.content.attributes(step.start_content() | step.end_content()), capped=True)
    documents = getattr(step, "documents", None)
    assert documents is None or isinstance(documents, int)


# --- LangChain


@PROPERTIES
@given(
    serialized=serialized,
    kwargs=run_kwargs,
    runnable=st.one_of(st.none(), junk, messages),
    root=st.booleans(),
    metadata=st.one_of(st.none(), junk_dicts),
)
def test_langchain_run_descriptions_never_raise(
    serialized: Any, kwargs: dict[str, Any], runnable: Any, root: bool, metadata: Any
) -> None:
    name = langchain.run_name(serialized, kwargs, "chain")
    assert isinstance(name, str)
    assert isinstance(langchain.is_prompt(runnable, serialized, name), bool)
    assert isinstance(langchain.is_parser(runnable, serialized, name), bool)
    kind = langchain.runnable_kind(runnable, name)
    _assert_step(langchain.chain_step(name, kind, root))
    prompt, version = langchain.prompt_identity(name, metadata)
    assert all(v is None or isinstance(v, str) for v in (prompt, version))


@PROPERTIES
@given(
    serialized=serialized,
    kwargs=run_kwargs,
    chat=st.booleans(),
    streaming=st.booleans(),
    inputs=st.one_of(st.lists(st.lists(messages, max_size=4), max_size=2), st.lists(text, max_size=2), junk),
    response=st.one_of(llm_results, junk),
    capture=st.booleans(),
)
def test_langchain_model_runs_never_raise(
    serialized: Any,
    kwargs: dict[str, Any],
    chat: bool,
    streaming: bool,
    inputs: Any,
    response: Any,
    capture: bool,
) -> None:
    call = langchain.model_call("chat" if chat else "text_completion", serialized, kwargs, streaming)
    call.input_messages = langchain.input_messages(inputs) if chat else langchain.prompt_messages(inputs)
    langchain.read_llm_result(call, response, capture)
    _assert_model_call(call)


@PROPERTIES
@given(
    serialized=serialized,
    kwargs=run_kwargs,
    tool_input=st.one_of(text, junk),
    output=st.one_of(messages, junk),
    query=st.one_of(text, junk),
    found=st.one_of(st.lists(documents, max_size=4), junk),
    capture=st.booleans(),
)
def test_langchain_tool_and_retriever_runs_never_raise(
    serialized: Any, kwargs: dict[str, Any], tool_input: Any, output: Any, query: Any, found: Any, capture: bool
) -> None:
    tool = langchain.tool_step(serialized, tool_input, kwargs, capture)
    langchain.tool_result(tool, output, capture)
    _assert_step(tool)
    retriever = langchain.retriever_step(serialized, query, kwargs, capture)
    langchain.retriever_result(retriever, found, capture)
    _assert_step(retriever)


# --- Kotaemon

families = st.builds(
    classify.Family,
    kind=st.sampled_from(
        [
            attr.KIND_LLM,
            attr.KIND_EMBEDDING,
            attr.KIND_RERANKER,
            attr.KIND_RETRIEVER,
            attr.KIND_TOOL,
            attr.KIND_AGENT,
            attr.KIND_INDEXING,
            attr.KIND_PIPELINE,
        ]
    ),
    methods=st.just(classify.MODEL_METHODS),
    completion=st.booleans(),
)
_settings = st.dictionaries(
    st.sampled_from(
        [
            "model",
            "model_name",
            "base_url",
            "temperature",
            "top_p",
            "max_tokens",
            "stop",
            "n",
            "tools",
            "dimensions",
            "top_k",
            "retrieval_mode",
            "name",
            "description",
            "agent_type",
            "plugins",
            "max_iterations",
        ]
    ),
    st.one_of(junk, st.lists(st.builds(SimpleNamespace, name=junk), max_size=3)),
    max_size=6,
)
components = st.builds(
    lambda attrx, lc_kwargs, plain: SimpleNamespace(
        _attrx={"ParamAttr": attrx}, _kwargs=lc_kwargs, fl=SimpleNamespace(name=plain.get("name")), **plain
    ),
    _settings,
    st.one_of(_settings, junk),
    _settings,
)
kotaemon_documents = st.one_of(
    st.builds(KotaemonDocument, content=st.one_of(text, junk), metadata=junk_dicts),
    st.builds(RetrievedDocument, text=text, score=st.one_of(st.floats(), st.integers()), metadata=junk_dicts),
)
llm_outputs = st.builds(
    LLMInterface,
    content=st.one_of(text, junk),
    prompt_tokens=junk,
    completion_tokens=junk,
    additional_kwargs=st.one_of(st.dictionaries(st.just("tool_calls"), junk), junk_dicts),
)
agent_outputs = st.builds(
    AgentOutput,
    agent_type=st.sampled_from(AgentType),
    text=st.one_of(text, junk),
    status=st.one_of(st.sampled_from(["finished", "stopped", "failed"]), junk),
    error=st.one_of(st.none(), text, junk),
    intermediate_steps=junk,
)
results = st.one_of(
    st.lists(kotaemon_documents, max_size=4),
    st.lists(st.builds(SimpleNamespace, embedding=junk), max_size=2),
    llm_outputs,
    agent_outputs,
    junk,
)


@PROPERTIES
@given(
    component=components,
    family=families,
    method=st.sampled_from(sorted(classify.MODEL_METHODS)),
    args=st.lists(st.one_of(text, st.lists(st.one_of(text, kotaemon_documents, junk)), junk), max_size=2),
    kwargs=st.dictionaries(st.sampled_from(["messages", "text", "temperature", "stop", "n", "tools"]), junk),
    result=results,
    chunks=st.lists(st.one_of(llm_outputs, junk), max_size=3),
    capture=st.booleans(),
)
def test_kotaemon_model_calls_never_raise(
    component: Any,
    family: classify.Family,
    method: str,
    args: list[Any],
    kwargs: dict[str, Any],
    result: Any,
    chunks: list[Any],
    capture: bool,
) -> None:
    call = models.model_call(component, family, method, tuple(args), kwargs, capture)
    models.llm_result(call, result, capture)
    models.embedding_result(call, result)
    stream = models.StreamText(call)
    for chunk in chunks:
        stream.add(chunk)
    _assert_model_call(call)


@PROPERTIES
@given(
    component=components,
    family=families,
    arguments=st.dictionaries(
        st.sampled_from(["text", "query", "documents", "top_k", "tool_input", "instruction", "max_iterations", "docs"]),
        st.one_of(text, st.lists(kotaemon_documents, max_size=3), junk),
    ),
    result=results,
    streamed=st.lists(st.one_of(agent_outputs, junk), max_size=3),
    capture=st.booleans(),
)
def test_kotaemon_steps_never_raise(
    component: Any, family: classify.Family, arguments: dict[str, Any], result: Any, streamed: list[Any], capture: bool
) -> None:
    assume(family.kind in kotaemon_steps.READINGS)
    reading = kotaemon_steps.READINGS[family.kind]
    step = reading.build(component, arguments, capture)
    if reading.read_result is not None:
        reading.read_result(step, result, capture)
    for output in streamed:
        if reading.read_item is not None:
            reading.read_item(step, output, capture)
    _assert_step(step)
    assert step.failure is None or isinstance(step.failure, str)


def test_the_checks_catch_what_an_exporter_would_reject() -> None:
    for bad in ({"k": 2**64}, {"k": [1, "a"]}, {"k": {"a": 1}}, {"k": None}, {"k": "x" * (CAP + TRUNCATION + 1)}):
        try:
            _assert_valid(bad, capped=True)
        except AssertionError:
            continue
        raise AssertionError(f"{bad} passed")
    _assert_valid({"k": math.nan, "l": ["a", "b"], "m": 2**63 - 1}, capped=True)
