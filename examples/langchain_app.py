"""A LangChain app that knows nothing of OpenTelemetry: a RAG chain, a tool-using agent, a fallback, a stream and
an async chain. Each scenario uses its own model name, so its telemetry can be told apart (see demo_models.py for
runs against the real API).
"""

import asyncio
import os
import sys

from demo_models import chat
from langchain_core.documents import Document
from langchain_core.messages import HumanMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableLambda, RunnablePassthrough
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI

QUESTION = "What is the answer?"


class FixedRetriever(BaseRetriever):
    """A retriever with two fixed documents (no network, no vector store)."""

    def _get_relevant_documents(self, query, *, run_manager=None):
        return [
            Document(page_content="The answer is 42.", metadata={"id": "doc-1"}),
            Document(page_content="Forty-two is the answer.", metadata={"id": "doc-2"}),
        ]


@tool
def get_weather(city: str) -> str:
    """Weather for a city."""
    return f"Sunny in {city}"


def model(name, **kwargs):
    return ChatOpenAI(
        base_url=os.environ.get("OPENAI_BASE_URL"), api_key=os.environ["OPENAI_API_KEY"], model=chat(name), **kwargs
    )


def rag_chain(llm):
    prompt = ChatPromptTemplate.from_messages([("user", "Context: {context} Question: {question}")])
    join = RunnableLambda(lambda documents: " ".join(d.page_content for d in documents))
    return {"context": FixedRetriever() | join, "question": RunnablePassthrough()} | prompt | llm | StrOutputParser()


def rag():
    assert rag_chain(model("m-rag", temperature=0.1)).invoke(QUESTION)


def agent():
    llm = model("m-agent").bind_tools([get_weather])

    def run(question):
        messages = [HumanMessage(question)]
        reply = llm.invoke(messages)
        messages.append(reply)
        for call in reply.tool_calls:
            messages.append(get_weather.invoke(call))
        return llm.invoke(messages).content

    assert RunnableLambda(run).with_config(run_name="WeatherAgent").invoke("Weather in Paris?")


def fallback():
    chain = model("error-500", max_retries=0).with_fallbacks([model("m-fallback")])
    assert chain.invoke(QUESTION).content


def stream():
    chain = ChatPromptTemplate.from_messages([("user", "{question}")]) | model("m-stream") | StrOutputParser()
    assert "".join(chain.stream({"question": QUESTION}))


async def async_chain():
    assert await rag_chain(model("m-async")).ainvoke(QUESTION)


SCENARIOS = [rag, agent, fallback, stream]


def main(names):
    for scenario in SCENARIOS:
        if not names or scenario.__name__ in names:
            scenario()
    if not names or "async" in names:
        asyncio.run(async_chain())
    print("app done")


if __name__ == "__main__":
    main(sys.argv[1:])
