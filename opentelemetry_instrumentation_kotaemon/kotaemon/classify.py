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


_FAMILIES: tuple[tuple[frozenset[str], str, frozenset[str]], ...] = (
    (_LLM_BASES, attr.KIND_LLM, MODEL_METHODS),
    (_EMBEDDING_BASES, attr.KIND_EMBEDDING, MODEL_METHODS),
    (_RERANKER_BASES, attr.KIND_RERANKER, STEP_METHODS),
    (_RETRIEVER_BASES, attr.KIND_RETRIEVER, STEP_METHODS),
    (_TOOL_BASES, attr.KIND_TOOL, STEP_METHODS),
    (_AGENT_BASES, attr.KIND_AGENT, GENERATOR_STEP_METHODS),
    (_INDEXING_BASES, attr.KIND_INDEXING, GENERATOR_STEP_METHODS),
)
"""(bases, kind, traced methods), in the order they are tried: the first whose bases a class has decides."""


def family_of(cls: type) -> Family:
    """The family of a component class, decided by the bases along its MRO; a pipeline when none matches."""
    keys = {class_key(base) for base in cls.__mro__}
    for bases, kind, methods in _FAMILIES:
        if keys & bases:
            return Family(kind, methods, completion=kind == attr.KIND_LLM and bool(keys & _COMPLETION_BASES))
    return Family(attr.KIND_PIPELINE, MODEL_METHODS, always=bool(keys & _PIPELINE_BASES))
