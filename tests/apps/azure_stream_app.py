"""Streams a chat answer through Azure OpenAI's clients, sync and async, on each API version named on the command
line, and prints each answer; it knows nothing of OpenTelemetry. Kotaemon's `.env.example` sets 2024-02-15-preview.

    python azure_stream_app.py AZURE_ENDPOINT API_VERSION...

Each call's deployment is `az-<version>-sync` or `az-<version>-async`; the key is OPENAI_API_KEY.
"""

import asyncio
import os
import sys

import openai

MESSAGES = [{"role": "user", "content": "What is the answer?"}]


def stream(endpoint: str, version: str) -> str:
    client = openai.AzureOpenAI(azure_endpoint=endpoint, api_version=version, api_key=os.environ["OPENAI_API_KEY"])
    chunks = client.chat.completions.create(model=f"az-{version}-sync", messages=MESSAGES, stream=True)
    return "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)


async def astream(endpoint: str, version: str) -> str:
    client = openai.AsyncAzureOpenAI(azure_endpoint=endpoint, api_version=version, api_key=os.environ["OPENAI_API_KEY"])
    chunks = await client.chat.completions.create(model=f"az-{version}-async", messages=MESSAGES, stream=True)
    return "".join([chunk.choices[0].delta.content or "" async for chunk in chunks if chunk.choices])


def main() -> None:
    endpoint, versions = sys.argv[1], sys.argv[2:]
    for version in versions:
        print(f"{version} sync: {stream(endpoint, version)}")
        print(f"{version} async: {asyncio.run(astream(endpoint, version))}")


if __name__ == "__main__":
    main()
