"""Instrument, uninstrument, lazy patching on import, version warnings, and the entry points."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from importlib import metadata

import openai
import pytest
from openai.resources.chat.completions import AsyncCompletions, Completions
from openai.resources.embeddings import Embeddings

from opentelemetry_instrumentation_kotaemon import KotaemonInstrumentor
from opentelemetry_instrumentation_kotaemon.patching import check_version
from tests.conftest import Captured
from tests.support.openai_server import OpenAIServer

Instrument = Callable[..., Captured]
ORIGINALS = {
    "chat": Completions.__dict__["create"],
    "chat_async": AsyncCompletions.__dict__["create"],
    "embeddings": Embeddings.__dict__["create"],
}


def _current() -> dict[str, object]:
    return {
        "chat": Completions.__dict__["create"],
        "chat_async": AsyncCompletions.__dict__["create"],
        "embeddings": Embeddings.__dict__["create"],
    }


def test_uninstrument_restores_every_original_and_reinstrument_does_not_stack(
    instrument: Instrument, openai_server: OpenAIServer
) -> None:
    client = openai.OpenAI(base_url=openai_server.base_url, api_key="k")
    captured = instrument()
    assert all(_current()[k] is not ORIGINALS[k] for k in ORIGINALS)
    raw_create = client.chat.completions.with_raw_response.create  # cached by openai, holds our wrapper
    KotaemonInstrumentor().uninstrument()
    assert _current() == ORIGINALS
    client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hi"}])
    raw_create(model="gpt-test", messages=[{"role": "user", "content": "hi"}])
    assert captured.spans() == []
    again = instrument()
    client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hi"}])
    assert len(again.spans()) == 1


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60, check=False
    )


def test_patching_waits_for_the_import_and_imports_nothing_heavy() -> None:
    result = _run(
        """
        import sys
        from opentelemetry_instrumentation_kotaemon import KotaemonInstrumentor
        KotaemonInstrumentor().instrument()
        heavy = [m for m in ("openai", "langchain_core", "kotaemon", "theflow", "httpx") if m in sys.modules]
        assert heavy == [], heavy
        from openai.resources.chat.completions import Completions
        import wrapt
        assert isinstance(Completions.__dict__["create"], wrapt.FunctionWrapper)
        KotaemonInstrumentor().uninstrument()
        assert not isinstance(Completions.__dict__["create"], wrapt.FunctionWrapper)
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_uninstrument_before_the_import_leaves_nothing_behind() -> None:
    result = _run(
        """
        from opentelemetry_instrumentation_kotaemon import KotaemonInstrumentor
        KotaemonInstrumentor().instrument()
        KotaemonInstrumentor().uninstrument()
        from openai.resources.chat.completions import Completions
        import wrapt
        assert not isinstance(Completions.__dict__["create"], wrapt.FunctionWrapper)
        KotaemonInstrumentor().instrument()
        assert isinstance(Completions.__dict__["create"], wrapt.FunctionWrapper)
        assert not isinstance(Completions.__dict__["create"].__wrapped__, wrapt.FunctionWrapper)
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_instrumenting_does_no_logging_setup_and_no_warning_filters() -> None:
    result = _run(
        """
        import logging, warnings
        import opentelemetry.instrumentation.instrumentor  # the base class: its own imports are not ours
        root = logging.getLogger()
        before = (list(root.handlers), root.level, list(warnings.filters))
        from opentelemetry_instrumentation_kotaemon import KotaemonInstrumentor
        KotaemonInstrumentor().instrument()
        import openai
        assert (list(root.handlers), root.level, list(warnings.filters)) == before
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr


def test_library_disabled_by_setting(instrument: Instrument, openai_server: OpenAIServer) -> None:
    captured = instrument(OTEL_KOTAEMON_INSTRUMENT="none")
    assert _current() == ORIGINALS
    openai.OpenAI(base_url=openai_server.base_url, api_key="k").embeddings.create(model="e", input="x")
    assert captured.spans() == []


def test_version_outside_the_tested_range_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    check_version("pytest", "<1")
    check_version("pytest", "<1")
    check_version("pytest", ">=1")
    check_version("not-installed-anywhere", ">=1")
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1
    assert "pytest" in messages[0] and "<1" in messages[0]


def test_entry_points_are_registered() -> None:
    groups = {
        "opentelemetry_instrumentor": "opentelemetry_instrumentation_kotaemon:KotaemonInstrumentor",
        "opentelemetry_distro": "opentelemetry_instrumentation_kotaemon.sdk.distro:KotaemonDistro",
        "opentelemetry_configurator": "opentelemetry_instrumentation_kotaemon.sdk.configurator:KotaemonConfigurator",
    }
    dist = metadata.distribution("opentelemetry-instrumentation-kotaemon")
    found = {(ep.group, ep.name): ep.value for ep in dist.entry_points}
    for group, value in groups.items():
        assert found[(group, "kotaemon")] == value
    assert "instruments" in (dist.metadata.get_all("Provides-Extra") or [])
