"""The test matrix of OpenAI client calls, in an app that knows nothing of OpenTelemetry. Scenarios are named on the
command line; each uses its own model name, so its telemetry can be told apart. The local test server plays every
scenario, errors and retries included (examples/openai_app.py is the app to copy).
"""

import asyncio
import gc
import sys
import time

import openai
from openai.types.chat import ChatCompletionChunk

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]
SECRET_PROMPT = (
    "My card is 4111 1111 1111 1111, mail jane.doe@example.com, phone +1 415-555-2671, "
    "key sk-live-abcdefghijklmnopqrstuvwx. What is the answer?"
)


def ask(content="What is the answer?"):
    return [{"role": "user", "content": content}]


def sync(client):
    reply = client.chat.completions.create(model="m-sync", messages=ask(), temperature=0.3, max_tokens=64, seed=7)
    assert reply.choices[0].message.content


def stream_full(client):
    chunks = list(client.chat.completions.create(model="m-stream-full", messages=ask(), stream=True))
    assert all(chunk.choices for chunk in chunks), "a usage-only chunk reached the app"
    assert all(isinstance(chunk, ChatCompletionChunk) for chunk in chunks), "the app got a chunk of another type"


def stream_abandoned(client):
    stream = client.chat.completions.create(model="m-stream-abandoned", messages=ask(), stream=True)
    for _ in stream:
        break
    del stream
    # An openai Stream and its running generator form a cycle, so only the cyclic collector frees it. Collect here:
    # collected in the middle of the next request, its response's close waits on the pool lock that request holds.
    gc.collect()


def stream_with(client):
    with client.chat.completions.create(model="m-stream-with", messages=ask(), stream=True) as stream:
        next(iter(stream))


def stream_raw(client):
    raw = client.chat.completions.with_raw_response.create(model="m-stream-raw", messages=ask(), stream=True)
    chunks = list(raw.parse())
    assert chunks and all(chunk.choices for chunk in chunks), "a usage-only chunk reached the app"


def embeddings(client):
    result = client.embeddings.create(model="m-embed", input=["first text", "second"])
    assert len(result.data) == 2


def tool_call(client):
    reply = client.chat.completions.create(model="m-tool", messages=ask(SECRET_PROMPT), tools=TOOLS)
    assert reply.choices[0].message.tool_calls
    stream = client.chat.completions.create(
        model="m-tool-stream", messages=ask(SECRET_PROMPT), tools=TOOLS, stream=True
    )
    for _ in stream:
        pass


def error_500(client):
    try:
        client.chat.completions.create(model="error-500", messages=ask())
    except openai.InternalServerError:
        return
    raise AssertionError("the 500 did not reach the app")


def retry(client):
    client.chat.completions.create(model="flaky-429", messages=ask())


def long_prompt(client):
    client.chat.completions.create(model="m-long", messages=ask("x" * 20_000))


def responses(client):
    assert client.responses.create(model="m-responses", input="What is the answer?").output_text


async def async_calls(base_url):
    client = openai.AsyncOpenAI(base_url=base_url)
    await client.chat.completions.create(model="m-async", messages=ask())
    stream = await client.chat.completions.create(model="m-async-stream", messages=ask(), stream=True)
    async for _ in stream:
        pass
    await asyncio.gather(
        *(client.chat.completions.create(model="m-concurrent", messages=ask(str(i))) for i in range(5))
    )


SCENARIOS = [
    sync,
    stream_full,
    stream_abandoned,
    stream_with,
    stream_raw,
    embeddings,
    tool_call,
    error_500,
    retry,
    responses,
]
ON_REQUEST = [long_prompt]  # run only when named


def main(names):
    started = time.perf_counter()
    client = openai.OpenAI()
    for scenario in SCENARIOS + ON_REQUEST:
        if (not names and scenario in SCENARIOS) or scenario.__name__ in names:
            scenario(client)
    if not names or "async" in names:
        asyncio.run(async_calls(str(client.base_url)))
    print(f"app done, calls took {time.perf_counter() - started:.3f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
