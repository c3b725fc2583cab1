"""A Kotaemon RAG app that knows nothing of OpenTelemetry: index, retrieve with re-rankers, answer, stream, agent.

Usage: kotaemon_rag_app.py BASE_URL
"""

import sys

from kotaemon.agents import ComponentTool, ReactAgent
from kotaemon.base import BaseComponent, Document, HumanMessage
from kotaemon.embeddings import OpenAIEmbeddings
from kotaemon.indices import VectorIndexing, VectorRetrieval
from kotaemon.indices.qa.citation_qa import AnswerWithContextPipeline
from kotaemon.indices.rankings import LLMReranking
from kotaemon.llms import ChatOpenAI
from kotaemon.rerankings import CohereReranking
from kotaemon.storages import InMemoryDocumentStore, InMemoryVectorStore

BASE_URL = sys.argv[1]
API_KEY = "sk-proj-e2eSECRETkey0123456789abcdef"
DOCUMENTS = ["Cats sleep most of the day.", "The answer to everything is 42.", "Paris is the capital of France."]


def llm(model):
    return ChatOpenAI(model=model, base_url=BASE_URL, api_key=API_KEY, temperature=0.2)


class RAGPipeline(BaseComponent):
    """Answers a question from retrieved documents."""

    retriever: VectorRetrieval
    llm: ChatOpenAI

    def run(self, question: str) -> Document:
        documents = self.retriever(question)
        context = "\n".join(d.text for d in documents)
        return self.llm([HumanMessage(content=f"Context: {context}\nQuestion: {question}")])


class StreamingRAG(BaseComponent):
    """Streams an answer with citations; returns the final answer (ktem's protocol)."""

    retriever: VectorRetrieval
    answering: AnswerWithContextPipeline

    def run(self, question: str) -> Document:
        raise NotImplementedError

    def stream(self, question: str):
        documents = self.retriever(question)
        answer = yield from self.answering.stream(question=question, evidence="\n".join(d.text for d in documents))
        return answer


class Search(ComponentTool):
    """A search tool backed by the retriever."""


def main() -> None:
    embedding = OpenAIEmbeddings(model="kt-embed", base_url=BASE_URL, api_key=API_KEY)
    vector_store, doc_store = InMemoryVectorStore(), InMemoryDocumentStore()
    VectorIndexing(vector_store=vector_store, doc_store=doc_store, embedding=embedding)(DOCUMENTS)

    retriever = VectorRetrieval(
        vector_store=vector_store,
        doc_store=doc_store,
        embedding=embedding,
        rerankers=[CohereReranking(), LLMReranking(llm=llm("kt-rerank"), top_k=2)],
        top_k=2,
    )
    answer = RAGPipeline(retriever=retriever, llm=llm("kt-answer"))("What is the answer to everything?")
    assert answer.text, answer

    streaming = StreamingRAG(retriever=retriever, answering=AnswerWithContextPipeline(llm=llm("kt-stream")))
    chunks = []
    generator = streaming.stream("What is the answer?")
    try:
        while True:
            chunks.append(next(generator).content)
    except StopIteration as stop:
        final = stop.value
    assert "".join(chunks) == final.content, (chunks, final)

    tool = Search(name="search", description="Searches the documents", component=retriever)
    agent = ReactAgent(llm=llm("react-agent"), plugins=[tool])
    output = agent("What is the meaning of life?")
    assert output.status == "finished" and output.text == "42", output.text


if __name__ == "__main__":
    main()
