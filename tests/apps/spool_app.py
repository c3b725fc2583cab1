"""An app that makes `APP_CALLS` chat calls, each with a log line, then (with `APP_WAIT=1`) waits to be stopped, as a
server does: SIGTERM ends it cleanly, through the interpreter's exit, like a web server's graceful stop."""

import logging
import os
import signal
import sys
import time

import openai

calls = int(os.environ.get("APP_CALLS", "0"))
client = openai.OpenAI()
for number in range(calls):
    client.chat.completions.create(model=f"m-spool-{number}", messages=[{"role": "user", "content": "hi"}])
    logging.getLogger("app").warning("call %d answered", number)
wait = os.environ.get("APP_WAIT") == "1"
if wait:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print(f"calls done: {calls}", flush=True)
if wait:
    time.sleep(120)
