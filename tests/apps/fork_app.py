"""An app that does its work in child processes: a plain fork, multiprocessing with fork, and with spawn.

With `FLUSH_IN_WORKERS=1` the fork-started multiprocessing worker flushes telemetry before it ends, as
docs/operations.md tells users to (such workers leave through `os._exit`, which skips the exit hooks that export the
last spans).
"""

import multiprocessing
import os
import sys

import openai


def ask(model):
    openai.OpenAI().chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])


def worker(model):
    ask(model)
    if os.environ.get("FLUSH_IN_WORKERS") == "1":
        from opentelemetry import trace

        trace.get_tracer_provider().force_flush()


if __name__ == "__main__":
    ask("m-parent")
    pid = os.fork()
    if pid == 0:
        ask("m-forked")
        sys.exit(0)  # a normal exit: exit hooks run
    os.waitpid(pid, 0)
    for method, model in (("fork", "m-mp-fork"), ("spawn", "m-mp-spawn")):
        process = multiprocessing.get_context(method).Process(target=worker, args=(model,))
        process.start()
        process.join()
        assert process.exitcode == 0
    print("app done")
