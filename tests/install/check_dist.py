"""What `make dist` built, checked against what each artifact must hold.

- The wheel: every file git tracks in the package (`py.typed` among them), the licence, the entry points of
  pyproject.toml, metadata of the version in `version.py` with the project URLs; nothing else.
- The sdist: every file git tracks under the sdist's include list in pyproject.toml (the package, tests, docs...),
  pyproject.toml and PKG-INFO; no caches, venvs, build outputs or VCS folders.

A file the artifact holds that git does not track (a new file not yet added, or one .gitignore misses) is reported, as
is a tracked file it lacks. With `--tag`, the version must also be the tag's (`v0.1.0` for 0.1.0).

Usage: python tests/install/check_dist.py DIST [--tag vX.Y.Z]
"""

from __future__ import annotations

import argparse
import configparser
import email.parser
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10: build, in the same venv, brings tomli
    import tomli as tomllib  # type: ignore[no-redef]

REPO = Path(__file__).resolve().parents[2]
PACKAGE_DIR = "opentelemetry_instrumentation_kotaemon"
PROJECT_URLS = ("Homepage", "Documentation", "Source", "Issues", "Changelog")
# the sdist must hold these, whatever the include list says
SDIST_REQUIRED = (PACKAGE_DIR, "tests", "docs", "README.md", "CHANGELOG.md", "LICENSE", "pyproject.toml", "PKG-INFO")
NEVER_SHIPPED = {
    "__pycache__",
    ".venv",
    ".git",
    ".build",
    "build",
    "dist",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".theflow",
}


def package_version() -> str:
    """The version in `version.py`, read as hatch reads it."""
    text = (REPO / PACKAGE_DIR / "version.py").read_text()
    found = re.search(r'^__version__ = "([^"]+)"$', text, re.MULTILINE)
    if not found:
        raise SystemExit("no __version__ in version.py")
    return found.group(1)


def tracked(*paths: str) -> set[str]:
    """The files git tracks under `paths` (relative to the repository)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--", *paths], cwd=REPO, capture_output=True, check=True)
    return {name for name in listed.stdout.decode().split("\0") if name}


def compare(kind: str, shipped: set[str], expected: set[str]) -> list[str]:
    problems = [f"{kind} holds {name}, which git does not track here" for name in sorted(shipped - expected)]
    problems += [f"{kind} lacks {name}" for name in sorted(expected - shipped)]
    return problems


def expected_entry_points(project: dict[str, object]) -> dict[str, dict[str, str]]:
    groups = {"console_scripts": dict(project.get("scripts", {}))}  # type: ignore[call-overload]
    groups.update({group: dict(points) for group, points in project.get("entry-points", {}).items()})  # type: ignore[attr-defined]
    return {group: points for group, points in groups.items() if points}


def check_wheel(wheel: Path, version: str, project: dict[str, object]) -> list[str]:
    info = f"{PACKAGE_DIR}-{version}.dist-info"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        expected = tracked(PACKAGE_DIR) | {
            f"{info}/{name}" for name in ("METADATA", "WHEEL", "RECORD", "entry_points.txt", "licenses/LICENSE")
        }
        problems = compare("the wheel", names, expected)
        if f"{PACKAGE_DIR}/py.typed" not in names:
            problems.append("the wheel lacks py.typed")
        metadata = email.parser.HeaderParser().parsestr(archive.read(f"{info}/METADATA").decode())
        points = configparser.ConfigParser(delimiters=("=",))
        points.optionxform = str  # type: ignore[assignment,method-assign]
        points.read_string(archive.read(f"{info}/entry_points.txt").decode())
    if metadata["Version"] != version:
        problems.append(f"the wheel's metadata says version {metadata['Version']}, version.py {version}")
    urls = {entry.partition(",")[0] for entry in metadata.get_all("Project-URL", [])}
    problems += [f"the wheel's metadata lacks the project URL {label}" for label in PROJECT_URLS if label not in urls]
    shipped = {group: dict(points[group]) for group in points.sections()}
    if shipped != expected_entry_points(project):
        problems.append(f"entry_points.txt differs from pyproject.toml: {shipped}")
    return problems


def check_sdist(sdist: Path, version: str, include: list[str]) -> list[str]:
    root = f"{PACKAGE_DIR}-{version}/"
    with tarfile.open(sdist) as archive:
        members = [member for member in archive.getmembers() if member.isfile()]
    outside = [member.name for member in members if not member.name.startswith(root)]
    names = {member.name[len(root) :] for member in members if member.name.startswith(root)}
    expected = tracked(*(path.lstrip("/") for path in include)) | {"pyproject.toml", "PKG-INFO", ".gitignore"}
    problems = [f"the sdist holds {name} outside {root}" for name in outside]
    problems += compare("the sdist", names, expected)
    problems += [
        f"the sdist holds {name}, which is never shipped"
        for name in sorted(names)
        if NEVER_SHIPPED & set(Path(name).parts) or name.endswith((".pyc", ".egg-info"))
    ]
    tops = {Path(name).parts[0] for name in names}
    problems += [f"the sdist lacks {required}" for required in SDIST_REQUIRED if required not in tops]
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dist", type=Path, help="the folder `python -m build` wrote to")
    parser.add_argument("--tag", help="the release tag the version must match (vX.Y.Z)")
    options = parser.parse_args()
    version = package_version()
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    wheels, sdists = sorted(options.dist.glob("*.whl")), sorted(options.dist.glob("*.tar.gz"))
    if [path.name for path in wheels] != [f"{PACKAGE_DIR}-{version}-py3-none-any.whl"] or len(sdists) != 1:
        print(f"expected one wheel and one sdist of {version} in {options.dist}: {[p.name for p in wheels + sdists]}")
        return 1
    problems = check_wheel(wheels[0], version, pyproject["project"])
    problems += check_sdist(sdists[0], version, pyproject["tool"]["hatch"]["build"]["targets"]["sdist"]["include"])
    if options.tag and options.tag != f"v{version}":
        problems.append(f"the tag {options.tag} is not v{version}, the version in version.py")
    for problem in problems:
        print(f"problem: {problem}")
    print(f"{'FAIL' if problems else 'ok  '} {wheels[0].name} and {sdists[0].name} against the lists")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
