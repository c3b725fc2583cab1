"""What `pip install opentelemetry-instrumentation-kotaemon` gives a user, tried as users do, with the wheel that
`make dist` built (and checked).

The wheel is installed by name (the README's install line, the wheel found through `--find-links`) with pip (the one
a new venv comes with) and with uv, into venvs that hold:
- nothing (Python 3.11; on 3.13 with the extra `http`);
- the newest official GenAI instrumentations;
- the newest FastAPI instrumentation;
- Kotaemon's locked OpenTelemetry, OpenAI and LangChain (`tests/requirements/kotaemon-lock-constraints.txt`).
In each: no package already installed changes version, `pip check` (`uv pip check`) is clean, the OpenTelemetry
packages are of one release family (1.N.P with 0.(N+21)bP), and `opentelemetry-instrument python app.py` exports its
spans through this package's file exporter.

The smoke run, on every Python the classifiers name: the wheel and `openai` installed with pip into a venv of their
own (on 3.11 within Kotaemon's lock constraints, elsewhere the newest releases), `opentelemetry-kotaemon doctor`, and
`examples/openai_app.py` under `opentelemetry-instrument`, exporting over OTLP/gRPC (the default) to a local receiver
(`smoke.py`): its spans and metrics must arrive, named for this version. These venvs are kept and reused while the
wheel, the interpreter and the requirements stay the same. Packages come from the registry, through the pip and uv
caches.

Usage: python tests/install/install_check.py --dist DIST --python 3.11=PATH [--python VERSION=PATH ...]
       [--uv UV] [--only NAME ...] [--smoke-venvs DIR]
"""

from __future__ import annotations

import argparse
import hashlib
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
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PACKAGE = "opentelemetry-instrumentation-kotaemon"
SCOPE = "opentelemetry_instrumentation_kotaemon"
LOCK_CONSTRAINTS = REPO / "tests" / "requirements" / "kotaemon-lock-constraints.txt"
APP = Path(__file__).with_name("app.py")
SMOKE = Path(__file__).with_name("smoke.py")
SMOKE_REQUIREMENTS = ["openai"]  # the library of the example app
SMOKE_SPANS = {"chat m-tool", "chat m-stream", "embeddings m-embed", "chat m-async"}
SMOKE_METRICS = {"gen_ai.client.operation.duration", "gen_ai.client.token.usage"}
LOCK_PYTHON = "3.11"
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
    title: str
    problems: list[str]
    notes: list[str]
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
            # uv caches a wheel by name and version: without the refresh it would install an older build of ours
            refresh = ["--refresh-package", PACKAGE]
            must([self.uv, "pip", "install", "-q", "-p", self.python, *refresh, *options, *requirements])

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
    notes = [f"before: {otel(before) or 'no OpenTelemetry'}", f"after:  {otel(after)}"]
    return Outcome(case.title, problems, notes, time.monotonic() - started)


def smoke_venv(version: str, python: str, wheel: Path, uv: str, venvs: Path) -> tuple[Path, bool]:
    """The venv of one smoke run, and whether it was reused: made (pip itself from uv's cache, then the wheel and the
    requirements installed with pip) unless one made from the same wheel, interpreter and requirements is there."""
    constraints = LOCK_CONSTRAINTS if version == LOCK_PYTHON else None
    key = hashlib.sha256()
    for part in (
        wheel.read_bytes(),
        must([python, "-c", "import sys; print(sys.version)"]).stdout.encode(),
        " ".join(SMOKE_REQUIREMENTS).encode(),
        constraints.read_bytes() if constraints else b"",
    ):
        key.update(hashlib.sha256(part).digest())
    venv = venvs / version
    stamp = venv / "smoke-key"
    if stamp.exists() and stamp.read_text() == key.hexdigest():
        return venv, True
    shutil.rmtree(venv, ignore_errors=True)
    must([uv, "venv", "-q", "--seed", "-p", python, str(venv)])
    options = ["-c", str(constraints)] if constraints else []
    must([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel), *SMOKE_REQUIREMENTS, *options])
    stamp.write_text(key.hexdigest())
    return venv, False


def try_smoke(version: str, python: str, wheel: Path, uv: str, venvs: Path) -> Outcome:
    started = time.monotonic()
    venv, reused = smoke_venv(version, python, wheel, uv, venvs)
    installed = Installer("pip", uv, venv).versions()
    package_version = installed.get(PACKAGE, "?")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    doctor = run([str(venv / "bin" / "opentelemetry-kotaemon"), "doctor"], env=environment, timeout=60)
    problems = []
    if doctor.returncode != 0 or not doctor.stdout.startswith(f"{PACKAGE} {package_version} on Python {version}."):
        problems.append(f"doctor ({doctor.returncode}): {doctor.stdout} {doctor.stderr}")
    smoke = run([str(venv / "bin" / "python"), str(SMOKE)], env=environment, timeout=300)
    if smoke.returncode != 0:
        problems.append(f"smoke.py failed ({smoke.returncode}): {smoke.stdout} {smoke.stderr}")
    else:
        problems += smoke_problems(json.loads(smoke.stdout), package_version)
    notes = [f"{'venv reused' if reused else 'venv made'}: {otel(installed)} openai={installed.get('openai')}"]
    return Outcome(f"smoke / pip / Python {version}", problems, notes, time.monotonic() - started)


def smoke_problems(report: dict[str, Any], version: str) -> list[str]:
    """What is wrong in what the example app exported (see smoke.py for the report)."""
    if report["returncode"] != 0 or "embeddings" not in report["stdout"]:
        return [f"the app failed ({report['returncode']}): {report['stdout']} {report['stderr']}"]
    problems = []
    spans = report["spans"]
    missing = SMOKE_SPANS - {span["name"] for span in spans}
    if missing:
        problems.append(f"spans missing: {sorted(missing)}; arrived: {sorted({span['name'] for span in spans})}")
    identity = {
        "service.name": "wheel-smoke",
        "telemetry.distro.name": PACKAGE,
        "telemetry.distro.version": version,
    }
    for span in spans:
        seen = {key: span["resource"].get(key) for key in identity}
        if seen != identity or (span["scope"], span["scope_version"]) != (SCOPE, version):
            problems.append(f"span {span['name']}: resource {seen}, scope {span['scope']} {span['scope_version']}")
            break
    if SMOKE_METRICS - set(report["metrics"]):
        problems.append(f"metrics missing: {sorted(SMOKE_METRICS - set(report['metrics']))}")
    complaints = [line for line in report["stderr"].splitlines() if line.strip() and "pkg_resources" not in line]
    if complaints:
        problems.append("the app's standard error: " + " | ".join(complaints))
    return problems


def _run_app(venv: Path, work: Path) -> list[str]:
    """Run the app with the distro's defaults plus the file exporter; OTLP goes to a port where nothing listens
    (its failure line and the exit line of what was not delivered are expected), so any other complaint shows."""
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
    expected = ("Could not export traces", "2 spans not delivered: the collector at")  # nothing listens there
    lines = [line for line in result.stderr.splitlines() if line.strip() and "pkg_resources" not in line]
    complaints = [line for line in lines if not line.startswith(expected)]
    text = output.read_text() if output.exists() else ""
    names = set(re.findall(r'"name": ?"([^"]+)"', text))
    missing = {"request", "pooled work"} - names
    problems = [f"spans missing from the file export: {sorted(missing)}"] if missing else []
    if '"install-check"' not in text:
        problems.append("the exported spans lack the service name")
    if not any(line.startswith(expected[1]) for line in lines):
        problems.append("no line at exit saying which spans the collector did not take")
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
    parser.add_argument("--dist", type=Path, required=True, help="the folder holding the wheel `make dist` built")
    parser.add_argument("--uv", default=shutil.which("uv") or "uv")
    parser.add_argument("--python", action="append", default=[], help="VERSION=PATH of an interpreter, once each")
    parser.add_argument("--only", nargs="*", help="checks to run (fresh, genai, fastapi, kotaemon-lock, smoke)")
    parser.add_argument("--smoke-venvs", type=Path, default=REPO / ".venv" / "smoke", help="where smoke venvs stay")
    parser.add_argument("--keep", action="store_true", help="keep the install cases' venvs (their folder is printed)")
    options = parser.parse_args()
    pythons = dict(entry.partition("=")[::2] for entry in options.python)
    missing = [version for version, path in pythons.items() if not path]
    if missing:
        print(f"Python {', '.join(missing)} not found: install it (pyenv) or give its path (see the Makefile)")
        return 1
    wheels = sorted(options.dist.glob("*.whl"))
    if len(wheels) != 1:
        print(f"expected one wheel in {options.dist} (make dist), found {[p.name for p in wheels]}")
        return 1
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
    smoke = not options.only or "smoke" in options.only
    needed = {case.python for case in cases} | (set(pythons) if smoke else set())
    if needed - set(pythons):
        print(f"no --python given for {', '.join(sorted(needed - set(pythons)))}")
        return 1
    started = time.monotonic()
    print(f"checking {wheels[0].name}")
    work = Path(tempfile.mkdtemp(prefix="install-check-"))
    try:
        outcomes = []
        for case in cases:
            try:
                outcomes.append(try_case(case, options.uv, pythons, options.dist, work))
            except Exception as error:  # a failed install is this case's failure, not the end of the check
                outcomes.append(Outcome(case.title, [str(error)], [], 0.0))
            report(outcomes[-1])
        for version, python in sorted(pythons.items()) if smoke else ():
            try:
                outcomes.append(try_smoke(version, python, wheels[0], options.uv, options.smoke_venvs))
            except Exception as error:
                outcomes.append(Outcome(f"smoke / pip / Python {version}", [str(error)], [], 0.0))
            report(outcomes[-1])
        failed = sum(bool(outcome.problems) for outcome in outcomes)
        print(f"install check took {time.monotonic() - started:.0f} s")
        print(f"{len(outcomes) - failed} passed, {failed} failed")
        return 1 if failed else 0
    finally:
        if options.keep:
            print(f"venvs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def report(outcome: Outcome) -> None:
    print(f"{'FAIL' if outcome.problems else 'ok  '} {outcome.title} ({outcome.seconds:.0f} s)")
    for line in outcome.notes:
        print(f"     {line}")
    for problem in outcome.problems:
        print(f"     problem: {problem}")


if __name__ == "__main__":
    sys.exit(main())
