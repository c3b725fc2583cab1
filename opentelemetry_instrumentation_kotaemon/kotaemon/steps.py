"""Kotaemon's retrievers, re-rankers, tools, agents, indexing and pipelines: each component's request (its settings
and the call's arguments) and its result read into the typed step record of its kind."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import attributes as attr
from ..core.spans import AgentStep, IndexingStep, RerankStep, RetrievalStep, Step, ToolStep, WorkflowStep
from ..core.spans.step import DocumentsStep
from ..core.values import first_number, nonempty_text, number
from .classify import class_key
from .params import setting, step_name


def _identity(obj: Any) -> dict[str, Any]:
    """The fields every step record of a component starts from."""
    cls = type(obj)
    return {"name": cls.__name__, "component": class_key(cls), "owner": obj, "step_name": step_name(obj)}


def _count(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return len(value)
    return 1


# --- requests


def retrieval_step(obj: Any, arguments: dict[str, Any], content: bool) -> RetrievalStep:
    step = RetrievalStep(
        **_identity(obj),
        top_k=first_number(arguments.get("top_k"), setting(obj, "top_k")),
        mode=nonempty_text(setting(obj, "retrieval_mode")),
    )
    if content:
        query = arguments.get("text", arguments.get("query"))
        query = getattr(query, "text", query)
        if isinstance(query, str):
            step.query = query
    return step


def rerank_step(obj: Any, arguments: dict[str, Any], content: bool) -> RerankStep:
    step = RerankStep(
        **_identity(obj),
        model=nonempty_text(setting(obj, "model_name")) or nonempty_text(setting(obj, "model")),
        top_k=number(setting(obj, "top_k")),
        input_count=_count(arguments.get("documents")),
    )
    if content and isinstance(arguments.get("query"), str):
        step.query = arguments["query"]
    return step


def tool_step(obj: Any, arguments: dict[str, Any], content: bool) -> ToolStep:
    step = ToolStep(**_identity(obj), description=nonempty_text(setting(obj, "description")))
    name = nonempty_text(setting(obj, "name"))
    if name:
        step.tool_name = step.name = name
    if content:
        step.arguments = arguments.get("tool_input")
    return step


def agent_step(obj: Any, arguments: dict[str, Any], content: bool) -> AgentStep:
    step = AgentStep(**_identity(obj))
    name = nonempty_text(setting(obj, "name"))
    if name:
        step.name = step.agent_name = name
    agent_type = getattr(setting(obj, "agent_type"), "value", None)
    if isinstance(agent_type, str):
        step.agent_type = agent_type
    tools = setting(obj, "plugins")
    names = [setting(tool, "name") for tool in tools] if isinstance(tools, (list, tuple)) else []
    if names and all(isinstance(n, str) for n in names):
        step.tools = names
    step.max_iterations = first_number(arguments.get("max_iterations"), setting(obj, "max_iterations"))
    if content:
        instruction = arguments.get("instruction", next(iter(arguments.values()), None))
        if isinstance(instruction, str):
            step.instruction = instruction
    return step


def indexing_step(obj: Any, arguments: dict[str, Any], content: bool) -> IndexingStep:
    items = next((v for k, v in arguments.items() if k not in ("self", "reindex")), None)
    return IndexingStep(**_identity(obj), documents=_count(items))


def workflow_step(obj: Any, arguments: dict[str, Any], content: bool) -> WorkflowStep:
    return WorkflowStep(**_identity(obj))


# --- results


def _doc_id(doc: Any) -> str | None:
    value = getattr(doc, "doc_id", None) or getattr(doc, "id_", None)
    return value if isinstance(value, str) else None


def _document_json(doc: Any) -> dict[str, Any]:
    doc_text = getattr(doc, "text", None)
    item: dict[str, Any] = {"id": _doc_id(doc), "content": doc_text if isinstance(doc_text, str) else str(doc)}
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


def documents_result(step: DocumentsStep, result: Any, content: bool) -> None:
    """The documents a retriever or re-ranker returned: count, ids and scores (a re-ranker's own), content."""
    documents = list(result) if isinstance(result, (list, tuple)) else []
    step.documents = len(documents) if isinstance(result, (list, tuple)) else None
    ids = [doc_id for d in documents if (doc_id := _doc_id(d))]
    if documents and len(ids) == len(documents):
        step.document_ids = ids
    reranked = isinstance(step, RerankStep)
    scores = [
        s for d in documents if (s := _rerank_score(d) if reranked else number(getattr(d, "score", None))) is not None
    ]
    if documents and len(scores) == len(documents):
        step.document_scores = [float(s) for s in scores]
    if content and documents:
        step.found = [_document_json(d) for d in documents]


def tool_result(step: ToolStep, result: Any, content: bool) -> None:
    if content and result is not None:
        output = getattr(result, "text", result)
        step.result = output if isinstance(output, str) else str(output)


def agent_output(step: AgentStep, output: Any, content: bool) -> None:
    """Read an `AgentOutput` (returned or streamed): status, iterations, and a failure reported as a value."""
    status = getattr(output, "status", None)
    if not isinstance(status, str):
        return
    step.status = status
    steps = getattr(output, "intermediate_steps", None)
    if isinstance(steps, list):
        step.iterations = len(steps)
    if status == "failed":
        error = getattr(output, "error", None)
        step.failure = error if isinstance(error, str) and error else "failed"
    if content:
        answer = getattr(output, "text", None)
        if isinstance(answer, str) and answer:
            step.answer = answer


# --- by kind


@dataclass(frozen=True)
class StepReading:
    """How the steps of one kind are read: the record from the component and the call's arguments, the returned
    result, and each streamed item."""

    build: Callable[[Any, dict[str, Any], bool], Step]
    read_result: Callable[[Any, Any, bool], None] | None = None
    read_item: Callable[[Any, Any, bool], None] | None = None
    binds_arguments: bool = True
    """Whether `build` reads the call's arguments (binding them to parameter names has a cost)."""


READINGS = {
    attr.KIND_RETRIEVER: StepReading(retrieval_step, documents_result),
    attr.KIND_RERANKER: StepReading(rerank_step, documents_result),
    attr.KIND_TOOL: StepReading(tool_step, tool_result),
    attr.KIND_AGENT: StepReading(agent_step, agent_output, agent_output),
    attr.KIND_INDEXING: StepReading(indexing_step),
    attr.KIND_PIPELINE: StepReading(workflow_step, binds_arguments=False),
}
"""How each kind of Kotaemon step is read, by the kind `classify.family_of` gives."""
