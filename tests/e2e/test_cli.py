"""`opentelemetry-kotaemon doctor`, `bootstrap` and `view`, run as a user runs them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / args[0]), *args[1:]], capture_output=True, text=True, timeout=120, env=env, check=False
    )


def _fake_duplicate(root: Path) -> None:
    """A distribution that registers an `openai` instrumentor, as OpenLLMetry's package does."""
    info = root / "opentelemetry_instrumentation_openai-0.0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: opentelemetry-instrumentation-openai\nVersion: 0.0.1\n"
    )
    (info / "entry_points.txt").write_text("[opentelemetry_instrumentor]\nopenai = fake_module:Instrumentor\n")


def test_doctor_reports_libraries_and_choices() -> None:
    key = "doctor-never-shows-this-key-0123456789"
    env = {"OTEL_KOTAEMON_INSTRUMENT": "openai", "OTEL_KOTAEMON_USER_ID_HASH_KEY": key}
    result = _run("opentelemetry-kotaemon", "doctor", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert key not in out + result.stderr and "(set, not shown)" in out
    import openai

    libraries = {line.split()[0]: line.split()[1:] for line in out.split("\n\n")[1].splitlines()[1:]}
    assert libraries["openai"] == [openai.__version__, "instrumented"]
    assert "not instrumented (langchain is switched off)" in out
    assert "OTEL_PYTHON_DISTRO=kotaemon" in out and "distro (opentelemetry-distro)" in out
    assert "Duplicate instrumentations\n  none" in out
    assert "ktem" not in out  # not installed: nothing said of its hook points
    assert "0 problem(s) found" in out


def test_doctor_lists_the_ktem_hook_points_it_finds() -> None:
    from tests.kotaemon_standin import environment

    result = _run("opentelemetry-kotaemon", "doctor", env=environment())
    hooks = result.stdout.partition("Kotaemon web app (ktem) hook points\n")[2].partition("\n\n")[0].splitlines()
    assert "  found   ktem.pages.chat.ChatPage.is_liked: likes and dislikes of answers, as evaluation events" in hooks
    assert len(hooks) == 9 and all(line.startswith("  found   ktem.") for line in hooks)


def test_doctor_finds_a_duplicate_instrumentation_and_bad_settings(tmp_path: Path) -> None:
    _fake_duplicate(tmp_path)
    env = {"PYTHONPATH": str(tmp_path), "OTEL_KOTAEMON_CONTENT_MAX_LENGTH": "huge"}
    result = _run("opentelemetry-kotaemon", "doctor", env=env)
    assert result.returncode == 1
    assert (
        "opentelemetry-instrumentation-openai (OpenLLMetry's OpenAI instrumentation) registers 'openai'"
        in result.stdout
    )
    assert "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=openai" in result.stdout
    assert "OTEL_KOTAEMON_CONTENT_MAX_LENGTH='huge' is not valid" in result.stderr


def test_the_launcher_offers_our_flags_but_none_for_the_hash_key() -> None:
    result = _run("opentelemetry-instrument", "--help")
    assert result.returncode == 0, result.stderr
    flags = set(re.findall(r"--(kotaemon_\w+)", result.stdout))
    assert {"kotaemon_redact", "kotaemon_redact_patterns", "kotaemon_hash_user_id", "kotaemon_file_path"} <= flags
    assert "kotaemon_user_id_hash_key" not in flags


def test_bootstrap_leaves_out_duplicate_instrumentations() -> None:
    stock = _run("opentelemetry-bootstrap").stdout.splitlines()
    ours = _run("opentelemetry-kotaemon", "bootstrap").stdout.splitlines()
    duplicates = [line for line in stock if line.startswith("opentelemetry-instrumentation-openai-v2")]
    assert [line for line in stock if line not in duplicates] == ours
    assert any(line.startswith("opentelemetry-instrumentation-threading") for line in ours)
    if not duplicates:  # older releases (0.48b0) suggest no OpenAI instrumentation: nothing to leave out
        pytest.skip("this opentelemetry-bootstrap suggests no duplicate instrumentation")
    assert not any("openai-v2" in line for line in ours)


def test_view_prints_a_file_and_notes_what_it_skips(tmp_path: Path) -> None:
    span = {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "a" * 16, "name": "root", "kind": 1}
    span.update(startTimeUnixNano="1700000000000000000", endTimeUnixNano="1700000000001000000")
    request = {"resourceSpans": [{"resource": {}, "scopeSpans": [{"scope": {"name": "s"}, "spans": [span]}]}]}
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps(request) + "\n{broken\n")
    result = _run("opentelemetry-kotaemon", "view", str(path))
    assert result.returncode == 0, result.stderr
    bar = "█" * 32
    assert result.stdout.splitlines() == [
        "trace 5b8efff798038103  service=None  1.0 ms",
        f"  root  {bar}       1.0 ms  INTERNAL ok",
    ]
    assert f"{path}:2: skipped" in result.stderr

    missing = _run("opentelemetry-kotaemon", "view", str(tmp_path / "missing.jsonl"))
    assert missing.returncode == 1 and "cannot read" in missing.stderr and "Traceback" not in missing.stderr
    (tmp_path / "empty.jsonl").write_text("")
    empty = _run("opentelemetry-kotaemon", "view", str(tmp_path / "empty.jsonl"))
    assert empty.returncode == 0 and "no telemetry found" in empty.stderr
