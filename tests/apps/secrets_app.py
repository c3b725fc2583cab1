"""An app that handles secrets and personal data everywhere telemetry could pick them up.

OpenAI, LangChain and Kotaemon calls carry them in prompts, headers, the client URL, tool arguments and results,
retrieved documents, and the messages of errors (raised by tools, or a tool error handed back as the answer).
Usage: secrets_app.py BASE_URL
"""

import contextlib
import logging
import sys

import openai
from kotaemon.agents.tools.base import BaseTool
from kotaemon.llms import ChatOpenAI as KotaemonChat
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.tools import ToolException, tool
from langchain_openai import ChatOpenAI

BASE_URL = sys.argv[1]
CLIENT_KEY = "sk-proj-PLANTEDclientKEY0000000000000"
SECRET = (
    "key sk-live-PLANTEDpromptKEY000000000 card 4111 1111 1111 1111 mail planted.person@example.com "
    "phone +1 415-555-0199 db https://admin:PlantedPassw0rd@db.internal/x "
    "token Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwbGFudGVkIn0.c2lnbmF0dXJlc2VjcmV0"
)
URL_WITH_PASSWORD = BASE_URL.replace("http://", "http://planteduser:PlantedUrlPass@")

logging.basicConfig(level=logging.INFO)
log = logging.getLogger("secrets-app")

# OpenAI: prompt, headers, a URL with a password, a failing call whose error could echo the prompt
client = openai.OpenAI(base_url=URL_WITH_PASSWORD, api_key=CLIENT_KEY, max_retries=0)
client.chat.completions.create(
    model="s-openai",
    messages=[{"role": "user", "content": SECRET}],
    extra_headers={"X-Api-Key": "sk-live-PLANTEDheaderKEY0000000000", "Authorization": "Bearer PLANTEDheaderTOKEN"},
)
list(
    client.chat.completions.create(model="s-openai-stream", messages=[{"role": "user", "content": SECRET}], stream=True)
)
try:
    client.chat.completions.create(model="error-500", messages=[{"role": "user", "content": SECRET}])
except openai.InternalServerError:
    log.exception("the model failed for %s", SECRET)


# LangChain: a tool called with secrets, a retriever returning them
@tool
def lookup(query: str) -> str:
    """Look a customer up."""
    return f"found {SECRET}"


class Leaky(BaseRetriever):
    def _get_relevant_documents(self, query, *, run_manager=None):
        return [Document(page_content=SECRET, metadata={"id": "doc-1"})]


@tool
def failing_lookup(query: str) -> str:
    """Look a customer up, and fail."""
    raise ValueError(f"no customer for {query}")


@tool
def soft_lookup(query: str) -> str:
    """Look a customer up; a failure is handed back as the answer."""
    raise ToolException(f"lookup failed for {query}")


soft_lookup.handle_tool_error = True
lookup.invoke({"query": SECRET})
with contextlib.suppress(ValueError):
    failing_lookup.invoke({"query": SECRET})
soft_lookup.invoke({"name": "soft_lookup", "args": {"query": SECRET}, "id": "call-1", "type": "tool_call"})
Leaky().invoke(SECRET)
ChatOpenAI(model="s-langchain", base_url=BASE_URL, api_key=CLIENT_KEY).invoke(SECRET)


# Kotaemon: an LLM and a tool
class KotaemonLookup(BaseTool):
    name: str = "kotaemon_lookup"
    description: str = "Look a customer up"

    def _run_tool(self, query):
        return f"found {SECRET}"


class KotaemonFailingLookup(BaseTool):
    name: str = "kotaemon_failing_lookup"
    description: str = "Look a customer up, and fail"

    def _run_tool(self, query):
        raise RuntimeError(f"no customer for {query}")


KotaemonChat(model="s-kotaemon", base_url=BASE_URL, api_key=CLIENT_KEY).invoke(SECRET)
KotaemonLookup().run(SECRET)
with contextlib.suppress(RuntimeError):
    KotaemonFailingLookup().run(SECRET)
log.info("done with %s", SECRET)
print("app done")
