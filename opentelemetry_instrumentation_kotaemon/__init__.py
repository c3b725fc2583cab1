"""OpenTelemetry auto-instrumentation for Kotaemon, LangChain and the OpenAI Python client.

Run an unchanged app with ``opentelemetry-instrument python app.py``; or call
``KotaemonInstrumentor().instrument()`` yourself.
"""

from .instrumentor import KotaemonInstrumentor
from .version import __version__

__all__ = ["KotaemonInstrumentor", "__version__"]
