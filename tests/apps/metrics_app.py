"""An app that knows nothing of OpenTelemetry and stays up until told to exit, so its metrics can be scraped.

It makes OpenAI client calls, runs a small Kotaemon RAG pipeline (index, retrieve, re-rank, answer), prints "ready",
then waits for a line on stdin (or its end) before exiting.
"""

import contextlib
import sys

import openai
from kotaemon.base import BaseComponent, HumanMessage
from kotaemon.embeddings import OpenAIEmbeddings
from kotaemon.indices import VectorIndexing, VectorRetrieval
from kotaemon.llms import ChatOpenAI
from kotaemon.rerankings import CohereReranking
from kotaemon.storages import InMemoryDocumentStore, InMemoryVectorStore

QUESTION = "Which documents mention the launch date?"
STREAMED_QUESTION = "Summarise the retrieved documents in one line"
EMBEDDED = ["first chunk of the manual", "second chunk"]
DOCUMENTS = ["Cats sleep most of the day.", "The answer to everything is 42.", "Paris is the capital of France."]
RAG_QUESTION = "What is the answer to everything?"
RAG_EMBEDDING_MODEL = "rag-embed"
RAG_CHAT_MODEL = "rag-answer"
TOP_K = 2


class AnswerPipeline(BaseComponent):
    """Answers a question from the documents the retriever finds."""

    retriever: VectorRetrieval
    llm: ChatOpenAI

    def run(self, question):
        context = "\n".join(document.text for document in self.retriever(question))
        return self.llm([HumanMessage(content=f"Context: {context}\nQuestion: {question}")])


def openai_calls():
    client = openai.OpenAI()
    client.chat.completions.create(model="m-chat", messages=[{"role": "user", "content": QUESTION}])
    stream = client.chat.completions.create(
        model="m-stream",
        messages=[{"role": "user", "content": STREAMED_QUESTION}],
        stream=True,
        stream_options={"include_usage": True},
    )
    for _ in stream:
        pass
    client.embeddings.create(model="m-embed", input=EMBEDDED)
    with contextlib.suppress(openai.InternalServerError):
        client.with_options(max_retries=0).chat.completions.create(
            model="error-500", messages=[{"role": "user", "content": QUESTION}]
        )


def kotaemon_rag():
    embedding = OpenAIEmbeddings(model=RAG_EMBEDDING_MODEL)
    vector_store, doc_store = InMemoryVectorStore(), InMemoryDocumentStore()
    VectorIndexing(vector_store=vector_store, doc_store=doc_store, embedding=embedding)(DOCUMENTS)
    retriever = VectorRetrieval(
        vector_store=vector_store, doc_store=doc_store, embedding=embedding, rerankers=[CohereReranking()], top_k=TOP_K
    )
    answer = AnswerPipeline(retriever=retriever, llm=ChatOpenAI(model=RAG_CHAT_MODEL))(RAG_QUESTION)
    assert answer.text, answer


def main():
    openai_calls()
    kotaemon_rag()
    print("ready", flush=True)
    sys.stdin.readline()
    print("app done", flush=True)


if __name__ == "__main__":
    main()
