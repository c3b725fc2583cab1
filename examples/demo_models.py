"""Model names for the example apps: each scenario's own, which the local test server answers, or, for a run against
the real API (`make demo DEMO_ARGS=--real`), the models named in APP_CHAT_MODEL and APP_EMBEDDING_MODEL."""

import os


def chat(name):
    """`name`, or APP_CHAT_MODEL when set. Names starting with `error-` are kept: they are meant to fail."""
    return name if name.startswith("error-") else os.environ.get("APP_CHAT_MODEL", name)


def embedding(name):
    """`name`, or APP_EMBEDDING_MODEL when set."""
    return os.environ.get("APP_EMBEDDING_MODEL", name)
