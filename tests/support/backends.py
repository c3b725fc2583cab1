"""Real Jaeger and Collector processes for tests/ops, from the binaries `make backends` builds with Go.

The binaries live in a cache outside the repository (see the Makefile); when one is missing, `make backends` builds
it here, and a failed build fails the test with the build's output. Every process runs one of the configs in `ops/`
as shipped, with its addresses set through the environment variables that config documents, on free loopback ports,
and is stopped by the PID of the process this module started.
"""

from __future__ import annotations

import fcntl
import json
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.support.prometheus import free_port, wait_until

REPO = Path(__file__).resolve().parents[2]
OPS = REPO / "ops"
JAEGER_CONFIG = OPS / "jaeger" / "jaeger.yaml"
ADAPTIVE_CONFIG = OPS / "jaeger" / "jaeger-adaptive.yaml"
SAMPLER_CONFIG = OPS / "collector" / "tail-sampling.yaml"
BALANCER_CONFIG = OPS / "collector" / "load-balancer.yaml"


def binary(name: str) -> Path:
    """The path of `jaeger`, `jaeger-leaderfix` (test only: docs/jaeger-adaptive-leader.md) or `balancer`, built by
    `make <name>` first if missing (serialised by a lock)."""
    paths = dict(line.split("=", 1) for line in _make("backend-paths").splitlines() if "=" in line)
    path = Path(paths[name])
    if path.exists():
        return path
    lock_file = REPO / ".build" / "backends.lock"
    lock_file.parent.mkdir(exist_ok=True)
    with lock_file.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _make(name)
    assert path.exists(), f"`make {name}` did not produce {path}"
    return path


def _make(target: str) -> str:
    result = subprocess.run(
        ["make", "-s", "--no-print-directory", target], cwd=REPO, capture_output=True, text=True, timeout=3600
    )
    if result.returncode != 0:
        raise AssertionError(f"`make {target}` failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result.stdout


def validate(binary: Path, config: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """`<binary> validate --config <config>`."""
    return subprocess.run(
        [str(binary), "validate", f"--config={config}"],
        cwd=REPO,
        env={**_base_env(), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _base_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "TMPDIR", "LANG")}


_given: set[int] = set()


def unique_port() -> int:
    """A free loopback port not handed out before in this test run (a closed probe's port can come back)."""
    while True:
        port = free_port()
        if port not in _given:
            _given.add(port)
            return port


def loopback() -> str:
    return f"127.0.0.1:{unique_port()}"


class Process:
    """A collector-style process: `binary --config config` with `env`, its output in `log_path`."""

    def __init__(self, name: str, binary: Path, config: Path, env: Mapping[str, str], workdir: Path) -> None:
        self.name = name
        self.binary = binary
        self.config = config
        self.env = dict(env)
        self.log_path = workdir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(self.binary), f"--config={self.config}"],
                cwd=REPO,
                env={**_base_env(), **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def alive(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"{self.name} exited ({self.process.returncode}):\n{self.log()[-4000:]}")
        return True

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        """Stop the process this object started (by its PID); SIGKILL if it does not exit within 20 s."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=20)

    def metrics(self, port_variable: str) -> str:
        """The process's own metrics in Prometheus text (its telemetry reader on `port_variable`)."""
        return _get(f"http://127.0.0.1:{self.env[port_variable]}/metrics").decode()


def _get(url: str, timeout: float = 5) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return bytes(response.read())


def _answers(url: str) -> bool:
    try:
        _get(url, timeout=2)
        return True
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


class Jaeger(Process):
    """Jaeger v2 running ops/jaeger/jaeger.yaml (or `config`, with the same addresses), every address on a free
    loopback port; `settings` sets more of the config's variables."""

    def __init__(
        self,
        binary: Path,
        workdir: Path,
        strategies: Path | None = None,
        reload: str = "1s",
        config: Path = JAEGER_CONFIG,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        env = {
            "JAEGER_OTLP_GRPC_ENDPOINT": loopback(),
            "JAEGER_OTLP_HTTP_ENDPOINT": loopback(),
            "JAEGER_QUERY_HTTP_ENDPOINT": loopback(),
            "JAEGER_QUERY_GRPC_ENDPOINT": loopback(),
            "JAEGER_SAMPLING_HTTP_ENDPOINT": loopback(),
            "JAEGER_SAMPLING_GRPC_ENDPOINT": loopback(),
            "JAEGER_HEALTH_ENDPOINT": loopback(),
            "JAEGER_METRICS_HOST": "127.0.0.1",
            "JAEGER_METRICS_PORT": str(unique_port()),
            "JAEGER_SAMPLING_RELOAD": reload,
        }
        if strategies is not None:
            env["JAEGER_SAMPLING_STRATEGIES"] = str(strategies)
        env.update(settings or {})
        super().__init__("jaeger", binary, config, env, workdir)

    @property
    def otlp_http(self) -> str:
        return f"http://{self.env['JAEGER_OTLP_HTTP_ENDPOINT']}"

    @property
    def otlp_grpc(self) -> str:
        return self.env["JAEGER_OTLP_GRPC_ENDPOINT"]

    @property
    def query(self) -> str:
        return f"http://{self.env['JAEGER_QUERY_HTTP_ENDPOINT']}"

    @property
    def sampling(self) -> str:
        return f"http://{self.env['JAEGER_SAMPLING_HTTP_ENDPOINT']}/sampling"

    def strategy(self, service: str) -> Any:
        """The strategy Jaeger serves `service` now (its JSON answer)."""
        return json.loads(_get(f"{self.sampling}?{urllib.parse.urlencode({'service': service})}"))

    def own_metrics(self) -> str:
        """Jaeger's own metrics, in Prometheus text."""
        return self.metrics("JAEGER_METRICS_PORT")

    def start(self) -> None:
        super().start()
        wait_until(
            lambda: self.alive() and _answers(f"{self.query}/api/services") and _answers(f"{self.sampling}?service=x"),
            "Jaeger to answer",
            timeout=60,
        )

    def api(self, path: str, **params: Any) -> Any:
        """GET the query API's `/api/<path>` and return its `data`."""
        url = f"{self.query}/api/{path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
        body = json.loads(_get(url))
        assert not body.get("errors"), body
        return body["data"]

    def traces(self, service: str, limit: int = 1000, **params: Any) -> list[dict[str, Any]]:
        """Every trace of `service` the query API returns (newest first, as Jaeger orders them)."""
        try:
            return list(self.api("traces", service=service, limit=limit, lookback="1h", **params))
        except urllib.error.HTTPError as error:
            if error.code == 404:  # the service has sent nothing yet
                return []
            raise
