"""Starts auto-instrumentation as `opentelemetry-instrument` does, but with a network audit hook installed first.

Prints every address the process resolved or connected to, then uses OpenAI, LangChain and Kotaemon.
Usage: audited_app.py BASE_URL
"""

import atexit
import json
import sys

seen = []


def audit(event, args):
    if event == "socket.connect":
        seen.append(["connect", str(args[1])])
    elif event == "socket.getaddrinfo":
        seen.append(["resolve", f"{args[0]}:{args[1]}"])


sys.addaudithook(audit)
# registered first, so it runs last: after the SDK's own exit hooks have exported everything
atexit.register(lambda: print("EXIT " + json.dumps(seen), flush=True))

try:  # the launcher's sitecustomize does exactly this
    from opentelemetry.instrumentation.auto_instrumentation import initialize

    initialize()
except ImportError:  # launchers before 0.50b0 run it when their sitecustomize is imported
    import opentelemetry.instrumentation.auto_instrumentation.sitecustomize  # noqa: F401

import openai  # noqa: E402
from kotaemon.llms import ChatOpenAI as KotaemonChat  # noqa: E402
from langchain_openai import ChatOpenAI  # noqa: E402

print("STARTUP " + json.dumps(seen), flush=True)
base_url = sys.argv[1]
openai.OpenAI(base_url=base_url, api_key="k").chat.completions.create(
    model="a-openai", messages=[{"role": "user", "content": "hi"}]
)
ChatOpenAI(model="a-langchain", base_url=base_url, api_key="k").invoke("hi")
KotaemonChat(model="a-kotaemon", base_url=base_url, api_key="k").invoke("hi")
