"""`opentelemetry-kotaemon bootstrap`: `opentelemetry-bootstrap` minus the instrumentations that would trace the same
calls as this package twice (the stock command cannot see third-party plugins and suggests those)."""

from __future__ import annotations

import inspect
import sys
from collections.abc import Sequence

from .doctor import DUPLICATES


def bootstrap(argv: Sequence[str]) -> None:
    """Run `opentelemetry-bootstrap`, without the instrumentations that duplicate this package."""
    from opentelemetry.instrumentation import bootstrap as otel_bootstrap
    from opentelemetry.instrumentation.bootstrap_gen import libraries

    kept = [lib for lib in libraries if lib["instrumentation"].split("=")[0] not in DUPLICATES]
    sys.argv = ["opentelemetry-bootstrap", *argv]
    if "libraries" in inspect.signature(otel_bootstrap.run).parameters:
        otel_bootstrap.run(libraries=kept)
        return
    saved = getattr(otel_bootstrap, "libraries")  # noqa: B009 - older releases read this module-level table
    setattr(otel_bootstrap, "libraries", kept)  # noqa: B010
    try:
        otel_bootstrap.run()
    finally:
        setattr(otel_bootstrap, "libraries", saved)  # noqa: B010
