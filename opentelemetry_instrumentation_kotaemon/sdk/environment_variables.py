"""Our variables, as `opentelemetry-instrument` reads them to offer a command-line flag for each.

`opentelemetry-instrument` imports this module (entry point group `opentelemetry_environment_variables`)
before it starts the app, in every run. That is the one moment we can make sure this package's distro and
configurator are the ones chosen when `opentelemetry-distro` is installed beside it: with several installed,
the loader otherwise picks whichever the file system lists first. A value the user set always wins.

It is also the moment to replace malformed standard values (see `sanitize_standard_variables`) before any part of the
SDK reads them: the SDK reads some when it is imported and then fails to import, which would stop the launcher and
the app with it. So this module must not import the SDK.
"""

import os

from ..settings import (
    ENTRY_POINT_NAME,
    OTEL_KOTAEMON_ALWAYS_SAMPLE,
    OTEL_KOTAEMON_BAGGAGE_KEYS,
    OTEL_KOTAEMON_CONTENT_MAX_LENGTH,
    OTEL_KOTAEMON_FILE_PATH,
    OTEL_KOTAEMON_HASH_USER_ID,
    OTEL_KOTAEMON_IDS_ON_EVERY_SPAN,
    OTEL_KOTAEMON_INSTRUMENT,
    OTEL_KOTAEMON_LANGCHAIN_ALL_RUNNABLES,
    OTEL_KOTAEMON_OPENAI_STREAM_USAGE,
    OTEL_KOTAEMON_REDACT,
    OTEL_KOTAEMON_REDACT_PATTERNS,
    OTEL_KOTAEMON_TRACE_ALL_STEPS,
    sanitize_standard_variables,
)

__all__ = [
    "OTEL_KOTAEMON_ALWAYS_SAMPLE",
    "OTEL_KOTAEMON_BAGGAGE_KEYS",
    "OTEL_KOTAEMON_CONTENT_MAX_LENGTH",
    "OTEL_KOTAEMON_FILE_PATH",
    "OTEL_KOTAEMON_HASH_USER_ID",
    "OTEL_KOTAEMON_IDS_ON_EVERY_SPAN",
    "OTEL_KOTAEMON_INSTRUMENT",
    "OTEL_KOTAEMON_LANGCHAIN_ALL_RUNNABLES",
    "OTEL_KOTAEMON_OPENAI_STREAM_USAGE",
    "OTEL_KOTAEMON_REDACT",
    "OTEL_KOTAEMON_REDACT_PATTERNS",
    "OTEL_KOTAEMON_TRACE_ALL_STEPS",
]

os.environ.setdefault("OTEL_PYTHON_DISTRO", ENTRY_POINT_NAME)
os.environ.setdefault("OTEL_PYTHON_CONFIGURATOR", ENTRY_POINT_NAME)
sanitize_standard_variables(os.environ)
