"""An app that knows nothing of OpenTelemetry, making one call of each kind whose metric names depend on the GenAI
conventions chosen (`OTEL_SEMCONV_STABILITY_OPT_IN`): a chat call whose usage reports cache reads and writes, a
streamed chat call, an embeddings call, and a LangChain chain (a workflow) with an agent inside (a nested
invocation). The OpenAI-compatible server comes from OPENAI_BASE_URL.
"""

import openai
from langchain_core.runnables import RunnableLambda, RunnablePassthrough
from langchain_openai import ChatOpenAI

QUESTION = [{"role": "user", "content": "What is the answer?"}]

client = openai.OpenAI()
assert client.chat.completions.create(model="cached-tier", messages=QUESTION).choices
assert "".join(
    chunk.choices[0].delta.content or ""
    for chunk in client.chat.completions.create(model="m-stream", messages=QUESTION, stream=True)
    if chunk.choices
)
assert client.embeddings.create(model="m-embed", input="the answer").data

llm = ChatOpenAI(model="m-agent")
agent = RunnableLambda(lambda question: llm.invoke(question).content).with_config(run_name="ResearchAgent")
assert (RunnablePassthrough() | agent).invoke("What is the answer?")
print("app done")
