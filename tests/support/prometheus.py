"""A real Prometheus server for the tests: Debian's `prometheus` package, unpacked (never installed) into `.build/`.

`apt-get download` fetches the package into a cache folder of the repository and `dpkg-deb -x` unpacks it, so no
service starts and nothing outside the repository changes. The server runs on 127.0.0.1 with a temporary storage
folder and is stopped by the PID of the process this module started. `promtool` comes from the same package.
"""

from __future__ import annotations

import fcntl
import json
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".build" / "prometheus"
ROOT = CACHE / "root"
PROMETHEUS = ROOT / "usr" / "bin" / "prometheus"
PROMTOOL = ROOT / "usr" / "bin" / "promtool"
POLL_SECONDS = 0.1


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(command, cwd=CACHE, capture_output=True, text=True, timeout=300)
    except FileNotFoundError as missing:
        raise RuntimeError(
            f"`{command[0]}` is not available: the Prometheus tests need apt-get and dpkg-deb"
        ) from missing


def ensure_binaries() -> None:
    """Download and unpack Debian's prometheus package once (later calls find it in the cache).

    A lock file serialises concurrent test runs; `apt-get update` is tried once when the download fails.
    """
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if PROMETHEUS.exists() and PROMTOOL.exists():
            return
        packages = sorted(CACHE.glob("prometheus_*.deb"))
        if not packages:
            download = _run(["apt-get", "download", "prometheus"])
            if download.returncode != 0:
                _run(["apt-get", "update"])
                download = _run(["apt-get", "download", "prometheus"])
            packages = sorted(CACHE.glob("prometheus_*.deb"))
            if download.returncode != 0 or not packages:
                raise RuntimeError(
                    "could not download Debian's `prometheus` package with `apt-get download prometheus` "
                    f"(exit {download.returncode}):\n{download.stdout}\n{download.stderr}"
                )
        unpack = _run(["dpkg-deb", "-x", str(packages[-1]), str(ROOT)])
        if unpack.returncode != 0 or not PROMETHEUS.exists():
            raise RuntimeError(f"could not unpack {packages[-1].name}:\n{unpack.stdout}\n{unpack.stderr}")


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `promtool args...` from the unpacked package."""
    ensure_binaries()
    return subprocess.run([str(PROMTOOL), *args], capture_output=True, text=True, timeout=120)


def wait_until(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """Poll `check` until it returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(POLL_SECONDS)


class PrometheusServer:
    """A Prometheus process on 127.0.0.1 with `config` (a prometheus.yml text) and a storage folder in `workdir`."""

    def __init__(self, config: str, workdir: Path) -> None:
        self.config = config
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> PrometheusServer:
        ensure_binaries()
        config_file = self.workdir / "prometheus.yml"
        config_file.write_text(self.config)
        log = (self.workdir / "prometheus.log").open("wb")
        self.process = subprocess.Popen(
            [
                str(PROMETHEUS),
                f"--config.file={config_file}",
                f"--storage.tsdb.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        wait_until(self._ready, "Prometheus to become ready")
        return self

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"Prometheus exited ({self.process.returncode}):\n{self.log()}")
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, ConnectionError):
            return False

    def log(self) -> str:
        return (self.workdir / "prometheus.log").read_text(errors="replace")

    def stop(self) -> None:
        """Stop the process this object started (by its PID), killing it if it does not exit in time."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)

    def __enter__(self) -> PrometheusServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def api(self, path: str, **params: str) -> Any:
        """GET `/api/v1/<path>` and return its `data` (raises on an API error, with Prometheus' message)."""
        url = f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                body = json.load(response)
        except urllib.error.HTTPError as error:
            body = json.load(error)
        if body.get("status") != "success":
            raise ValueError(f"{path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The result of an instant query (a list of {"metric": labels, "value": [time, "text"]})."""
        data = self.api("query", query=expr)
        assert data["resultType"] == "vector", data
        return list(data["result"])

    def values(self, expr: str) -> dict[tuple[tuple[str, str], ...], float]:
        """An instant query's values keyed by their sorted labels."""
        return {tuple(sorted(item["metric"].items())): float(item["value"][1]) for item in self.query(expr)}

    def value(self, expr: str) -> float | None:
        """The single value of an instant query, or None when it has no result."""
        result = self.query(expr)
        assert len(result) <= 1, result
        return float(result[0]["value"][1]) if result else None
