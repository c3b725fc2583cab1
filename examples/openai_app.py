"""An OpenAI client app that knows nothing of OpenTelemetry: a question answered with a weather tool, a streamed
answer, embeddings, and concurrent async questions.

Run it under `opentelemetry-instrument python examples/openai_app.py`; it reads OPENAI_API_KEY (and
OPENAI_BASE_URL for any OpenAI-compatible server) as the client does. Model names come from demo_models.py.
"""

import asyncio
import json

import openai
from demo_models import chat, embedding

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def get_weather(city):
    return f"Sunny in {city}"


def answer_with_tool(client, question):
    """Ask; run the tools the model asks for; ask again with their results."""
    messages = [{"role": "user", "content": question}]
    reply = client.chat.completions.create(model=chat("m-tool"), messages=messages, tools=[WEATHER_TOOL])
    message = reply.choices[0].message
    if not message.tool_calls:
        return message.content
    calls = [
        {"id": call.id, "type": "function", "function": call.function.model_dump(include={"name", "arguments"})}
        for call in message.tool_calls
    ]
    messages.append({"role": "assistant", "content": message.content, "tool_calls": calls})
    for call in message.tool_calls:
        city = json.loads(call.function.arguments or "{}").get("city", "Paris")
        messages.append({"role": "tool", "tool_call_id": call.id, "content": get_weather(city)})
    final = client.chat.completions.create(model=chat("m-tool"), messages=messages, tools=[WEATHER_TOOL])
    return final.choices[0].message.content


def stream_answer(client, question):
    stream = client.chat.completions.create(
        model=chat("m-stream"), messages=[{"role": "user", "content": question}], stream=True, max_tokens=64
    )
    return "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)


def embed(client, texts):
    return [item.embedding for item in client.embeddings.create(model=embedding("m-embed"), input=texts).data]


async def ask_concurrently(questions):
    client = openai.AsyncOpenAI()

    async def ask(question):
        reply = await client.chat.completions.create(
            model=chat("m-async"), messages=[{"role": "user", "content": question}], max_tokens=64
        )
        return reply.choices[0].message.content

    return await asyncio.gather(*(ask(question) for question in questions))


def main():
    client = openai.OpenAI()
    print(answer_with_tool(client, "What is the weather in Paris?"))
    print(stream_answer(client, "What is the answer to everything, in one line?"))
    print(len(embed(client, ["Cats sleep most of the day.", "Paris is the capital of France."])), "embeddings")
    print(asyncio.run(ask_concurrently(["One word for blue?", "One word for green?"])))


if __name__ == "__main__":
    main()
