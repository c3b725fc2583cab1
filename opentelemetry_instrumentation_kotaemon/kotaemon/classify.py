"""What a Kotaemon component is (LLM, embedding, retriever, re-ranker, tool, agent, indexing or pipeline), from its
class alone, and which of its methods make a span."""

from __future__ import annotations

from dataclasses import dataclass

from .. import attributes as attr

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
