"""Kotaemon's retrievers, re-rankers, tools, agents, indexing and pipelines: each component's request (its settings
and the call's arguments) and its result read into the typed step record of its kind."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import attributes as attr
from ..core.spans import AgentStep, IndexingStep, RerankStep, RetrievalStep, Step, ToolStep, WorkflowStep
from ..core.spans.step import MAX_LISTED_DOCUMENTS, DocumentsStep
from ..core.telemetry import current_step
from ..core.values import first_number, first_whole_number, nonempty_text, number
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


_KTEM_TABLE = re.compile(r"index__(.+)__(?:index|source)")
"""ktem names its file index tables `index__{id}__index` and `index__{id}__source`."""


def _file_index_id(obj: Any) -> str | None:
    """The id of the ktem file index whose retriever `obj` is, from the index tables ktem hands to the index's
    retrievers (the retriever has no other link to its index)."""
    for name in ("Index", "Source"):
        table = getattr(setting(obj, name), "__tablename__", None)
        found = _KTEM_TABLE.fullmatch(table) if isinstance(table, str) else None
        if found:
            return found.group(1)
    return None


def _outer_data_source_id() -> str | None:
    """The data source of the retrieval this one runs inside (a ktem retriever's own vector retrieval), if any."""
    outer = current_step()
    return outer.data_source_id if isinstance(outer, RetrievalStep) else None


def retrieval_step(obj: Any, arguments: dict[str, Any], content: bool) -> RetrievalStep:
    own_index = _file_index_id(obj)
    step = RetrievalStep(
        **_identity(obj),
        top_k=first_whole_number(arguments.get("top_k"), setting(obj, "top_k")),
        mode=nonempty_text(setting(obj, "retrieval_mode")),
        data_source_id=own_index or _outer_data_source_id(),
        # ktem's file index retrievers search the selected files (`doc_ids`, or `file_ids` for the graph ones)
        nothing_selected=own_index is not None and not arguments.get("doc_ids") and not setting(obj, "file_ids"),
    )
    if content:
        query = arguments.get("text", arguments.get("query"))
        query = getattr(query, "text", query)
        if isinstance(query, str):
            step.query = query
    return step


def rerank_step(obj: Any, arguments: dict[str, Any], content: bool) -> RerankStep:
    documents = arguments.get("documents")
    step = RerankStep(
        **_identity(obj),
        model=nonempty_text(setting(obj, "model_name")) or nonempty_text(setting(obj, "model")),
        top_k=number(setting(obj, "top_k")),
        input_count=_count(documents),
        reader=_Reranked(documents),
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
    step.description = nonempty_text(setting(obj, "description"))
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


def _identifier(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    return value if isinstance(value, str) and value else None


def identify(step: Step, obj: Any, arguments: dict[str, Any]) -> None:
    """The conversation (ktem passes it as `conv_id`), the answer's place in it (the exchanges of the `history`
    before the question: ktem's chat_fn passes the chat without the new question, so a like of the answer names the
    same place), and the user (the `user_id` ktem sets on its index pipelines and on the retrievers it gives a
    reasoning pipeline). Either spelling of each argument is read, by name."""
    step.conversation_id = _identifier(arguments.get("conv_id", arguments.get("conversation_id")))
    history = arguments.get("history", arguments.get("chat_history"))
    if step.conversation_id is not None and isinstance(history, list):
        step.answer_index = len(history)
    user = _identifier(setting(obj, "user_id"))
    if user is None:
        retrievers = setting(obj, "retrievers")
        for retriever in retrievers if isinstance(retrievers, (list, tuple)) else ():
            user = _identifier(setting(retriever, "user_id"))
            if user is not None:
                break
    step.user_id = user


def workflow_step(obj: Any, arguments: dict[str, Any], content: bool) -> WorkflowStep:
    return WorkflowStep(**_identity(obj), workflow_name=type(obj).__name__)


# --- results


class _Documents:
    """Kotaemon documents (`Document`, `RetrievedDocument`): `doc_id`, the retrieval `score`, `text`."""

    def id(self, document: Any) -> str | None:
        value = getattr(document, "doc_id", None) or getattr(document, "id_", None)
        return value if isinstance(value, str) and value else None

    def score(self, document: Any) -> float | None:
        value = number(getattr(document, "score", None))
        return None if value is None else float(value)

    def text(self, document: Any) -> str | None:
        value = getattr(document, "text", None)
        return value if isinstance(value, str) else str(document)


SCORE_KEYS = ("reranking_score", "llm_reranking_score", "llm_trulens_score")
"""Where Kotaemon's re-rankers keep their scores in `doc.metadata` (v0.11.3): `reranking_score` (Cohere, Voyage and
TEI in `kotaemon.rerankings`, Cohere in `kotaemon.indices.rankings`), `llm_reranking_score` (`LLMScoring`),
`llm_trulens_score` (`LLMTrulensScoring`, ktem's relevance scorer)."""


def _scores(document: Any) -> tuple[Any, ...] | None:
    """The values of the score keys in a document's metadata (None for a key it lacks), or None without metadata."""
    metadata = getattr(document, "metadata", None)
    return tuple(metadata.get(key) for key in SCORE_KEYS) if isinstance(metadata, dict) else None


class _Reranked(_Documents):
    """Documents a re-ranker returned: the score is the one it wrote into their metadata.

    Which one is found by behaviour: the key whose value appeared or changed during the call, compared with the
    documents it was given (they are changed in place, and may carry the score of a re-ranker before it); none for a
    re-ranker that wrote none (`LLMReranking` filters). Of several, the first in `SCORE_KEYS` order.
    """

    __slots__ = ("key", "prior")

    def __init__(self, documents: Any) -> None:
        listed = documents[:MAX_LISTED_DOCUMENTS] if isinstance(documents, (list, tuple)) else ()
        self.prior = {id(document): _scores(document) for document in listed}
        """The scores of the documents given, by document, before the call."""
        self.key: str | None = None

    def settle(self, returned: Any) -> str | None:
        """Decide which score key is this re-ranker's, from the documents it returned."""
        written: set[int] = set()
        for document in returned[:MAX_LISTED_DOCUMENTS] if isinstance(returned, (list, tuple)) else ():
            after = _scores(document)
            if after is None:
                continue
            before = self.prior.get(id(document)) or (None,) * len(SCORE_KEYS)
            written.update(i for i, value in enumerate(after) if value is not None and value != before[i])
        self.key = SCORE_KEYS[min(written)] if written else None
        return self.key

    def score(self, document: Any) -> float | None:
        metadata = getattr(document, "metadata", None)
        if self.key is None or not isinstance(metadata, dict):
            return None
        value = number(metadata.get(self.key))
        return None if value is None else float(value)


_DOCUMENTS = _Documents()


def documents_result(step: DocumentsStep, result: Any, content: bool) -> None:
    """The documents a retriever or re-ranker returned: counted now, read (ids, scores, texts) if the span records
    (a re-ranker's scores also for the relevance metric)."""
    if not isinstance(result, (list, tuple)):
        return
    step.documents = len(result)
    step.returned = result
    if isinstance(step, RerankStep) and isinstance(step.reader, _Reranked):
        step.score_name = step.reader.settle(result)
    else:
        step.reader = _DOCUMENTS


def indexing_result(step: IndexingStep, result: Any, content: bool) -> None:
    """ktem's indexing returns `(file_ids, errors, docs)` for a batch and `(file_id, docs)` for one file."""
    if not isinstance(result, tuple) or not result or not isinstance(result[-1], list):
        return
    step.documents = len(result[-1])
    if len(result) == 3 and isinstance(result[1], list):
        failures = [error for error in result[1] if error]
        if failures:
            step.failed_count = len(failures)
            step.failure = f"{len(failures)} of {len(result[1])} files failed: {failures[0]}"


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
    attr.KIND_INDEXING: StepReading(indexing_step, indexing_result),
    attr.KIND_PIPELINE: StepReading(workflow_step, binds_arguments=False),
}
"""How each kind of Kotaemon step is read, by the kind `classify.family_of` gives."""
