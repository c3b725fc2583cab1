"""docs/names.md lists every attribute, metric and event name in attributes.py."""

from __future__ import annotations

import re
from pathlib import Path

from opentelemetry_instrumentation_kotaemon import attributes

DOC = Path(__file__).resolve().parents[2] / "docs" / "names.md"
_NOT_NAMES = {"PROVIDER_OPENAI", "PROVIDER_AZURE_OPENAI"}  # values of gen_ai.provider.name


def test_every_name_is_in_the_table() -> None:
    text = DOC.read_text()
    names = {
        value
        for key, value in vars(attributes).items()
        if key.isupper() and isinstance(value, str) and "." in value and key not in _NOT_NAMES
    }
    names |= set(attributes.STEP_DURATION_METRICS.values())
    # a name made per operation is listed with the operations it is made for
    names = {n.format(operation=op) for n in names for op in ("chat", "embeddings")}
    # a row may abbreviate siblings as `gen_ai.request.model`, `.temperature`
    spelled = set(re.findall(r"`([a-z_]+(?:\.[a-z_]+)+)`", text))
    for prefix, suffixes in re.findall(r"`([a-z_.]+)\.[a-z_]+`((?:, `\.[a-z_.]+`)+)", text):
        spelled |= {prefix + suffix for suffix in re.findall(r"`(\.[a-z_.]+)`", suffixes)}
    missing = sorted(name for name in names if name not in spelled)
    assert not missing, missing
