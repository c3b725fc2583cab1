"""`opentelemetry-kotaemon doctor` in process: duplicate MCP instrumentations, and this package switched off."""

from __future__ import annotations

from pathlib import Path

import pytest

from opentelemetry_instrumentation_kotaemon.cli.doctor import doctor


def _installed_instrumentor(root: Path, distribution: str, entry_point: str) -> None:
    """Make `distribution` look installed (first on the path), registering an `opentelemetry_instrumentor`."""
    info = root / f"{distribution.replace('-', '_')}-0.0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: 0.0.1\n")
    (info / "entry_points.txt").write_text(
        f"[opentelemetry_instrumentor]\n{entry_point} = absent_module:Instrumentor\n"
    )


def _report() -> tuple[list[str], int]:
    lines: list[str] = []
    problems = doctor(out=lines.append)
    return lines, problems


@pytest.mark.parametrize(
    ("distribution", "who"),
    [
        ("opentelemetry-instrumentation-mcp", "OpenLLMetry's MCP instrumentation"),
        ("openinference-instrumentation-mcp", "OpenInference's MCP instrumentation"),
    ],
)
def test_an_mcp_instrumentation_beside_ours_is_a_duplicate(
    distribution: str, who: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", raising=False)
    _installed_instrumentor(tmp_path, distribution, "mcp")
    monkeypatch.syspath_prepend(str(tmp_path))
    lines, problems = _report()
    (line,) = [text for text in lines if text.startswith(f"  {distribution} ")]
    assert f"({who}" in line and "registers 'mcp': calls would be traced twice" in line
    assert "    disable it with OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=mcp or uninstall it" in lines
    assert problems >= 1

    monkeypatch.setenv("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "mcp")  # as the line advises
    lines, _ = _report()
    (line,) = [text for text in lines if text.startswith(f"  {distribution} ")]
    assert line.endswith("registers 'mcp', skipped (OTEL_PYTHON_DISABLED_INSTRUMENTATIONS)")


def _section(lines: list[str], title: str) -> list[str]:
    """The lines under `title`, up to the next section's title."""
    start = lines.index(title) + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("\n")), len(lines))
    return lines[start:end]


@pytest.mark.parametrize("disabled", ["kotaemon", "requests, kotaemon"])
def test_libraries_are_not_instrumented_when_this_package_is_switched_off(
    disabled: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", disabled)
    lines, _ = _report()
    libraries = _section(lines, "\nLibraries")
    assert libraries[0] == (
        "  none instrumented: OTEL_PYTHON_DISABLED_INSTRUMENTATIONS has kotaemon, so opentelemetry-instrument does "
        "not load this package"
    )
    installed = [line for line in libraries[1:] if "not installed" not in line]
    assert installed and all(line.endswith("not instrumented") for line in installed), installed


def test_libraries_are_instrumented_when_another_instrumentation_is_switched_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "requests,kotaemon-extra")
    lines, _ = _report()
    libraries = _section(lines, "\nLibraries")
    assert not any("none instrumented" in line for line in libraries)
    assert any(line.endswith(" instrumented") and "not" not in line for line in libraries), libraries


def test_a_wildcard_switches_this_package_off_where_the_launcher_skips_every_instrumentor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from opentelemetry.instrumentation.auto_instrumentation import _load

    monkeypatch.setenv("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "*")
    lines, _ = _report()
    launcher_skips_all = hasattr(_load, "SKIPPED_INSTRUMENTATIONS_WILDCARD")  # opentelemetry-instrumentation 0.60b0+
    off = "  none instrumented: OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=*"
    switched_off = any(line.startswith(off) for line in lines)
    assert switched_off == launcher_skips_all
