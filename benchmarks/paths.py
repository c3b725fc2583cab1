"""The traced paths the benchmarks measure, and which instrumentations trace each of them.

No `from __future__ import annotations`: theflow reads the annotations of the Kotaemon pipeline class below.

Every path is a zero-argument callable made against the benchmark's model server, built after the SDK and the
instrumentation are set up (instrumentations patch libraries when they are imported):

- `chat`, `stream`, `embeddings`: the OpenAI client alone.
- `rag`: a LangChain RAG chain, `chain.invoke(question)`: a retriever and a join step next to a passthrough, a
  prompt, `ChatOpenAI` (langchain-openai) and a string parser (nine runnables report start and end).
- `rag_stream`: the same chain streamed (`chain.stream(question)`, read to its end).
- `agent`: a LangGraph ReAct agent (`create_react_agent`) with one tool: model, tool, model.
- `kotaemon`: a Kotaemon RAG pipeline on the test suite's stand-in (real theflow): retrieval with an embedding
  call and a vector search, re-ranking, then the answer from `ChatOpenAI`.
"""

from collections.abc import Callable
from typing import Any

OPENAI = ("chat", "stream", "embeddings")
LANGCHAIN = ("rag", "rag_stream", "agent")
KOTAEMON = ("kotaemon",)
OPERATIONS = OPENAI + LANGCHAIN + KOTAEMON
TITLES = {
    "chat": "OpenAI chat",
    "stream": "OpenAI chat streamed",
    "embeddings": "OpenAI embeddings",
    "rag": "LangChain RAG chain",
    "rag_stream": "LangChain RAG chain streamed",
    "agent": "LangGraph agent, one tool",
    "kotaemon": "Kotaemon RAG pipeline",
}
WEIGHTS = {"chat": 1, "stream": 1, "embeddings": 1, "rag": 2, "rag_stream": 3, "agent": 5, "kotaemon": 40}
"""About how many OpenAI chat calls one call of each path costs: a benchmark makes proportionally fewer of it."""
PEERS = ("official", "official-openai", "openllmetry", "openinference")
OURS_VARIANTS = ("ours-no-usage-request", "ours-unsampled")
QUESTION = "What is the answer?"
CHAT_MODEL = "bench-chat"
EMBEDDING_MODEL = "bench-embedding"
MESSAGES = [
    {"role": "system", "content": "You answer from the retrieved documents."},
    {"role": "user", "content": QUESTION},
]


def configs_for(operation: str, configs: tuple[str, ...]) -> tuple[str, ...]:
    """The configurations of `configs` that measure `operation`: no peer traces Kotaemon; streams' usage switch only
    matters to the OpenAI paths."""
    if operation in KOTAEMON:
        return tuple(c for c in configs if c not in PEERS and c != "ours-no-usage-request")
    if operation in LANGCHAIN:
        return tuple(c for c in configs if c != "ours-no-usage-request")
    return tuple(c for c in configs if c != "official-openai")  # the same as `official` for the client alone


def openai_paths(base_url: str, counter: list[int]) -> dict[str, Callable[[], None]]:
    """The three OpenAI client calls; `counter[0]` counts the streamed chunks seen."""
    from openai import OpenAI

    client = OpenAI(base_url=base_url, api_key="sk-benchmark", max_retries=0)

    def chat() -> None:
        client.chat.completions.create(model=CHAT_MODEL, messages=MESSAGES)  # type: ignore[arg-type]

    def stream() -> None:
        for _chunk in client.chat.completions.create(model=CHAT_MODEL, messages=MESSAGES, stream=True):  # type: ignore[arg-type]
            counter[0] += 1

    def embeddings() -> None:
        client.embeddings.create(model=EMBEDDING_MODEL, input=QUESTION)

    return {"chat": chat, "stream": stream, "embeddings": embeddings}


def rag_chain(base_url: str, model: str = CHAT_MODEL) -> Any:
    """The LangChain RAG chain: `{context: retriever | join, question: passthrough} | prompt | model | parser`."""
    from langchain_core.documents import Document
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.retrievers import BaseRetriever
    from langchain_core.runnables import RunnableLambda, RunnablePassthrough
    from langchain_openai import ChatOpenAI

    class FixedRetriever(BaseRetriever):
        """Two fixed documents: no vector store, so the chain's own work is what is measured."""

        def _get_relevant_documents(self, query: str, *, run_manager: Any = None) -> list[Document]:
            return [
                Document(page_content="The answer is 42.", metadata={"id": "doc-1"}),
                Document(page_content="Forty-two is the answer.", metadata={"id": "doc-2"}),
            ]

    prompt = ChatPromptTemplate.from_messages([("user", "Context: {context} Question: {question}")])
    join = RunnableLambda(lambda documents: " ".join(d.page_content for d in documents))
    llm = ChatOpenAI(base_url=base_url, api_key="sk-benchmark", model=model, max_retries=0)
    return {"context": FixedRetriever() | join, "question": RunnablePassthrough()} | prompt | llm | StrOutputParser()


def langchain_paths(base_url: str, counter: list[int]) -> dict[str, Callable[[], None]]:
    """The RAG chain invoked and streamed, and the LangGraph agent."""
    from langchain_core.messages import HumanMessage
    from langchain_core.tools import tool
    from langchain_openai import ChatOpenAI
    from langgraph.prebuilt import create_react_agent

    chain = rag_chain(base_url)

    @tool
    def get_weather(city: str, unit: str = "celsius") -> str:
        """Weather for a city."""
        return f"Sunny in {city}, 21 degrees {unit}"

    agent = create_react_agent(
        ChatOpenAI(base_url=base_url, api_key="sk-benchmark", model=CHAT_MODEL, max_retries=0), [get_weather]
    )
    request = {"messages": [HumanMessage("Weather in Paris?")]}

    def rag() -> None:
        chain.invoke(QUESTION)

    def rag_stream() -> None:
        for _chunk in chain.stream(QUESTION):
            counter[0] += 1

    def run_agent() -> None:
        messages = agent.invoke(request)["messages"]
        if len(messages) != 4:  # question, tool call, tool result, answer
            raise RuntimeError(f"the agent took another path: {messages}")

    return {"rag": rag, "rag_stream": rag_stream, "agent": run_agent}


def kotaemon_paths(base_url: str) -> dict[str, Callable[[], None]]:
    """The Kotaemon RAG pipeline on the stand-in, its documents indexed once beforehand."""
    import sys
    import tempfile
    from pathlib import Path

    # theflow keeps a record and a file cache of every run under the temporary folder: each worker gets its own,
    # so workers running side by side (and earlier runs) do not change each other's work.
    tempfile.tempdir = tempfile.mkdtemp(prefix="kotaemon-bench-")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.kotaemon_standin import use

    use()
    from kotaemon.base import BaseComponent, Document, HumanMessage
    from kotaemon.embeddings import OpenAIEmbeddings
    from kotaemon.indices import VectorIndexing, VectorRetrieval
    from kotaemon.llms import ChatOpenAI
    from kotaemon.rerankings import CohereReranking
    from kotaemon.storages import InMemoryDocumentStore, InMemoryVectorStore

    class RAGPipeline(BaseComponent):
        """Answers a question from retrieved, re-ranked documents."""

        retriever: VectorRetrieval
        llm: ChatOpenAI

        def run(self, question: str) -> Document:
            documents = self.retriever(question)
            context = "\n".join(d.text for d in documents)
            return self.llm([HumanMessage(content=f"Context: {context}\nQuestion: {question}")])

    embedding = OpenAIEmbeddings(model=EMBEDDING_MODEL, base_url=base_url, api_key="sk-benchmark")
    vector_store, doc_store = InMemoryVectorStore(), InMemoryDocumentStore()
    VectorIndexing(vector_store=vector_store, doc_store=doc_store, embedding=embedding)(
        ["Cats sleep most of the day.", "The answer to everything is 42.", "Paris is the capital of France."]
    )
    retriever = VectorRetrieval(
        vector_store=vector_store, doc_store=doc_store, embedding=embedding, rerankers=[CohereReranking()], top_k=2
    )
    pipeline = RAGPipeline(
        retriever=retriever, llm=ChatOpenAI(model=CHAT_MODEL, base_url=base_url, api_key="sk-benchmark")
    )

    def kotaemon() -> None:
        pipeline(QUESTION)

    return {"kotaemon": kotaemon}


def instrument(config: str) -> None:
    """Turn on the instrumentation a configuration measures: ours, or a peer's OpenAI and LangChain instrumentors
    (each instrumented the way its documentation says; content capture off through the environment)."""
    if config.startswith("ours"):
        from opentelemetry_instrumentation_kotaemon import KotaemonInstrumentor

        KotaemonInstrumentor().instrument()
    elif config == "openllmetry":
        from opentelemetry.instrumentation.langchain import LangchainInstrumentor
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor as OpenLLMetryOpenAI

        OpenLLMetryOpenAI().instrument()
        LangchainInstrumentor().instrument()
    elif config == "official":
        from opentelemetry.instrumentation.genai.langchain import LangChainInstrumentor as OfficialLangChain
        from opentelemetry.instrumentation.genai.openai import OpenAIInstrumentor as OfficialOpenAI

        OfficialOpenAI().instrument()
        OfficialLangChain().instrument()
    elif config == "official-openai":  # what the official pair does where `langchain` is not installed
        from opentelemetry.instrumentation.genai.openai import OpenAIInstrumentor as OfficialOpenAI

        OfficialOpenAI().instrument()
    elif config == "openinference":
        from openinference.instrumentation.langchain import LangChainInstrumentor as OpenInferenceLangChain
        from openinference.instrumentation.openai import OpenAIInstrumentor as OpenInferenceOpenAI

        OpenInferenceOpenAI().instrument()
        OpenInferenceLangChain().instrument()
