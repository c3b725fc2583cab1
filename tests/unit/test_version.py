"""The version lives in one place, `version.py`: the build, `doctor` and the changelog's newest release agree with it.
The resource's `telemetry.distro.version` is checked end to end in tests/e2e/test_openai.py; the built wheel's
metadata by tests/install/check_dist.py, and its doctor and resource by the smoke run of `make install-check`."""

from __future__ import annotations

import re
from pathlib import Path

import tomllib

from opentelemetry_instrumentation_kotaemon.cli.doctor import doctor
from opentelemetry_instrumentation_kotaemon.version import DISTRIBUTION, __version__

REPO = Path(__file__).resolve().parents[2]
RELEASE = re.compile(r"^## \[(?P<version>[^\]]+)\](?: - (?P<date>\d{4}-\d{2}-\d{2}))?$", re.MULTILINE)


def test_the_changelog_starts_with_unreleased_then_the_package_version() -> None:
    releases = [(m["version"], m["date"]) for m in RELEASE.finditer((REPO / "CHANGELOG.md").read_text())]
    assert releases[0] == ("Unreleased", None)
    version, date = releases[1]
    assert version == __version__, "the newest release in CHANGELOG.md is not version.py's version"
    assert date, "a released version has a date"
    assert all(date for _, date in releases[1:])


def test_the_build_reads_the_version_from_version_py() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert pyproject["project"]["name"] == DISTRIBUTION
    assert pyproject["project"]["dynamic"] == ["version"]
    assert pyproject["tool"]["hatch"]["version"]["path"] == "opentelemetry_instrumentation_kotaemon/version.py"


def test_doctor_names_the_version() -> None:
    lines: list[str] = []
    doctor(out=lines.append)
    assert lines[0].startswith(f"{DISTRIBUTION} {__version__} on Python ")
