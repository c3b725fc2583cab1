"""What `pip install opentelemetry-instrumentation-kotaemon` gives a user, tried as users do.

The wheel is built, then installed by name (the README's install line, the wheel found through `--find-links`) with
pip (the one a new venv comes with) and with uv, into venvs that hold:
- nothing (Python 3.11; on 3.13 with the extra `http`);
- the newest official GenAI instrumentations;
- the newest FastAPI instrumentation;
- Kotaemon's locked OpenTelemetry, OpenAI and LangChain (`tests/requirements/kotaemon-lock-constraints.txt`).
In each: no package already installed changes version, `pip check` (`uv pip check`) is clean, the OpenTelemetry
packages are of one release family (1.N.P with 0.(N+21)bP), and `opentelemetry-instrument python app.py` exports its
spans through this package's file exporter. Packages come from the registry, through the pip and uv caches.

Usage: python tests/install/install_check.py [--uv UV] [--python311 PATH] [--python313 PATH] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = "opentelemetry-instrumentation-kotaemon"
LOCK_CONSTRAINTS = REPO / "tests" / "requirements" / "kotaemon-lock-constraints.txt"
APP = Path(__file__).with_name("app.py")
GENAI = [
    "opentelemetry-instrumentation-openai-v2",
    "opentelemetry-instrumentation-google-genai",
    "opentelemetry-instrumentation-openai-agents-v2",
    "opentelemetry-util-genai",
]
FASTAPI = ["opentelemetry-instrumentation-fastapi", "fastapi"]
KOTAEMON_LOCK = [
    "openai",
    "langchain-core",
    "langchain-openai",
    "theflow",
    "fastapi",
    "opentelemetry-api",
    "opentelemetry-sdk",
    "opentelemetry-instrumentation",
    "opentelemetry-instrumentation-fastapi",
    "opentelemetry-exporter-otlp-proto-grpc",
    "opentelemetry-semantic-conventions",
]


@dataclass
class Case:
    name: str
    python: str
    installer: str
    preinstalled: list[str] = field(default_factory=list)
    constraints: Path | None = None
    extra: str = ""

    @property
    def title(self) -> str:
        return f"{self.name}{f'[{self.extra}]' if self.extra else ''} / {self.installer} / Python {self.python}"


@dataclass
class Outcome:
    case: Case
    problems: list[str]
    before: dict[str, str]
    after: dict[str, str]
    seconds: float


def run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]


def must(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = run(command, **kwargs)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


class Installer:
    """pip inside the venv, or uv from outside: the same four operations."""

    def __init__(self, kind: str, uv: str, venv: Path) -> None:
        self.kind, self.uv, self.venv = kind, uv, venv
        self.python = str(venv / "bin" / "python")

    def create(self, python: str) -> None:
        if self.kind == "pip":
            must([python, "-m", "venv", str(self.venv)])
        else:
            must([self.uv, "venv", "-q", "-p", python, str(self.venv)])

    def install(self, requirements: list[str], *options: str) -> None:
        if self.kind == "pip":
            must([self.python, "-m", "pip", "install", "-q", *options, *requirements])
        else:
            must([self.uv, "pip", "install", "-q", "-p", self.python, *options, *requirements])

    def versions(self) -> dict[str, str]:
        listed = must([self.uv, "pip", "list", "-p", self.python, "--format", "json"]).stdout
        return {entry["name"].lower().replace("_", "-"): entry["version"] for entry in json.loads(listed)}

    def check(self) -> subprocess.CompletedProcess[str]:
        if self.kind == "pip":
            return run([self.python, "-m", "pip", "check"])
        return run([self.uv, "pip", "check", "-p", self.python])


_STABLE = re.compile(r"^1\.(\d+)\.(\d+)$")
_BETA = re.compile(r"^0\.(\d+)b(\d+)$")


def release_families(versions: dict[str, str]) -> dict[tuple[int, int], list[str]]:
    """The OpenTelemetry packages by release family: 1.N.P and 0.(N+21)bP are one release of the core and contrib
    repositories. Packages versioned on their own (the GenAI instrumentations and utilities) are left out."""
    families: dict[tuple[int, int], list[str]] = {}
    for name, version in versions.items():
        if not name.startswith("opentelemetry-") or name == PACKAGE:
            continue
        stable, beta = _STABLE.match(version), _BETA.match(version)
        if stable:
            family = (int(stable.group(1)) + 21, int(stable.group(2)))
        elif beta and int(beta.group(1)) >= 40:
            family = (int(beta.group(1)), int(beta.group(2)))
        else:
            continue
        families.setdefault(family, []).append(f"{name}=={version}")
    return families


def try_case(case: Case, uv: str, pythons: dict[str, str], wheels: Path, work: Path) -> Outcome:
    started = time.monotonic()
    venv = work / f"{case.name}{case.extra}-{case.installer}-{case.python}"
    installer = Installer(case.installer, uv, venv)
    installer.create(pythons[case.python])
    if case.preinstalled:
        options = ["-c", str(case.constraints)] if case.constraints else []
        installer.install(case.preinstalled, *options)
    before = installer.versions()
    requirement = f"{PACKAGE}[{case.extra}]" if case.extra else PACKAGE
    installer.install([requirement], "--find-links", str(wheels))  # the README's line; the wheel stands in for PyPI
    after = installer.versions()
    problems = [
        f"{name} changed {version} -> {after.get(name, 'removed')}"
        for name, version in before.items()
        if after.get(name) != version
    ]
    checked = installer.check()
    if checked.returncode != 0:
        problems.append(f"pip check: {checked.stdout.strip()} {checked.stderr.strip()}")
    families = release_families(after)
    if len(families) != 1:
        problems.append(f"OpenTelemetry packages of {len(families)} release families: {families}")
    problems += _run_app(venv, work)
    return Outcome(case, problems, before, after, time.monotonic() - started)


def _run_app(venv: Path, work: Path) -> list[str]:
    """Run the app with the distro's defaults plus the file exporter; OTLP goes to a port where nothing listens
    (its one failure line is expected), so any other complaint at startup shows."""
    output = work / f"{venv.name}.jsonl"
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("OTEL_")},
        "OTEL_SERVICE_NAME": "install-check",
        "OTEL_TRACES_EXPORTER": "otlp,kotaemon_file",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{_free_port()}",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_KOTAEMON_FILE_PATH": str(output),
    }
    command = [str(venv / "bin" / "opentelemetry-instrument"), str(venv / "bin" / "python"), str(APP)]
    result = run(command, env=environment, cwd=str(work), timeout=120)
    if result.returncode != 0 or "app done" not in result.stdout:
        return [f"app failed ({result.returncode}): {result.stdout} {result.stderr}"]
    complaints = [
        line
        for line in result.stderr.splitlines()
        if line.strip() and "Could not export traces" not in line and "pkg_resources" not in line
    ]
    text = output.read_text() if output.exists() else ""
    names = set(re.findall(r'"name": ?"([^"]+)"', text))
    missing = {"request", "pooled work"} - names
    problems = [f"spans missing from the file export: {sorted(missing)}"] if missing else []
    if '"install-check"' not in text:
        problems.append("the exported spans lack the service name")
    if complaints:
        problems.append("the app's standard error: " + " | ".join(complaints))
    return problems


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def otel(versions: dict[str, str]) -> str:
    wanted = ("sdk", "instrumentation", "distro", "semantic-conventions", "instrumentation-fastapi")
    versions = {name[len("opentelemetry-") :]: v for name, v in versions.items() if name.startswith("opentelemetry-")}
    return " ".join(f"{name}={versions[name]}" for name in wanted if name in versions)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uv", default=shutil.which("uv") or "uv")
    parser.add_argument("--python311", default=shutil.which("python3.11") or "python3.11")
    parser.add_argument("--python313", default=shutil.which("python3.13") or "python3.13")
    parser.add_argument("--only", nargs="*", help="case names to try (fresh, genai, fastapi, kotaemon-lock)")
    parser.add_argument("--keep", action="store_true", help="keep the venvs (their folder is printed)")
    options = parser.parse_args()
    pythons = {"3.11": options.python311, "3.13": options.python313}
    cases = [
        case
        for installer in ("pip", "uv")
        for case in (
            Case("fresh", "3.11", installer),
            Case("fresh", "3.13", installer, extra="http"),
            Case("genai", "3.11", installer, GENAI),
            Case("fastapi", "3.11", installer, FASTAPI),
            Case("kotaemon-lock", "3.11", installer, KOTAEMON_LOCK, LOCK_CONSTRAINTS),
        )
        if not options.only or case.name in options.only
    ]
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="install-check-"))
    try:
        wheels = work / "wheels"
        must([options.uv, "build", "-q", "--wheel", "-o", str(wheels), str(REPO)])
        print(f"built {', '.join(p.name for p in wheels.glob('*.whl'))} in {time.monotonic() - started:.0f} s")
        failed = 0
        for case in cases:
            try:
                outcome = try_case(case, options.uv, pythons, wheels, work)
            except Exception as error:  # a failed install is this case's failure, not the end of the check
                outcome = Outcome(case, [str(error)], {}, {}, 0.0)
            failed += bool(outcome.problems)
            print(f"{'FAIL' if outcome.problems else 'ok  '} {case.title} ({outcome.seconds:.0f} s)")
            print(f"     before: {otel(outcome.before) or 'no OpenTelemetry'}")
            print(f"     after:  {otel(outcome.after)}")
            for problem in outcome.problems:
                print(f"     problem: {problem}")
        print(f"install check took {time.monotonic() - started:.0f} s")
        print(f"{len(cases) - failed} passed, {failed} failed")
        return 1 if failed else 0
    finally:
        if options.keep:
            print(f"venvs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
