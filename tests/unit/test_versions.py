"""One table of supported library versions: the instrumentation and `opentelemetry-kotaemon doctor` agree on it."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from opentelemetry_instrumentation_kotaemon import patching
from opentelemetry_instrumentation_kotaemon.cli.doctor import doctor
from opentelemetry_instrumentation_kotaemon.versions import SUPPORTED_LIBRARIES, SupportedLibrary, markdown_table


def _installed(root: Path, distribution: str, version: str) -> None:
    """Make `distribution` at `version` look installed to `importlib.metadata` (first on the path)."""
    info = root / f"{distribution.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n")


@pytest.mark.parametrize("library", SUPPORTED_LIBRARIES, ids=lambda library: library.distribution)
@pytest.mark.parametrize("version", ["0.0.1", "0.9.0", "0.10.3", "0.8.7", "1.26.0", "1.8.3", "3.9.0", "99.0"])
def test_doctor_and_the_instrumentation_agree_on_the_tested_range(
    library: SupportedLibrary,
    version: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    distribution = library.distribution
    _installed(tmp_path, distribution, version)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(patching, "_version_warned", set())
    lines: list[str] = []
    doctor(out=lines.append)
    (line,) = [text for text in lines if text.startswith(f"  {distribution} ")]
    assert version in line
    doctor_objects = "outside the tested range" in line
    with caplog.at_level(logging.WARNING, logger=patching.__name__):
        patching.check_version(distribution)  # what the integration runs when the library is imported
    instrumentation_warns = any(distribution in r.getMessage() for r in caplog.records)
    assert doctor_objects == instrumentation_warns, line


def test_doctor_objects_to_a_kotaemon_outside_the_range(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _installed(tmp_path, "kotaemon", "0.9.0")
    monkeypatch.syspath_prepend(str(tmp_path))
    lines: list[str] = []
    problems = doctor(out=lines.append)
    assert "  kotaemon           0.9.0      instrumented; outside the tested range >=0.10,<1" in lines
    assert problems >= 1


def test_the_readme_table_lists_every_library() -> None:
    table = markdown_table()
    assert all(f"`{library.distribution}` | `{library.versions}`" in table for library in SUPPORTED_LIBRARIES)
