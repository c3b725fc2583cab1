"""The ktem-like Gradio app (tests/apps/ktem_gradio_app.py) under `opentelemetry-instrument`, driven over HTTP by
`gradio_client` the way the browser drives ktem: one client is one browser session, and each event of a chain
(`.success()`, `.then()`) is sent after the one before it finished.
"""

from __future__ import annotations

import contextlib
import inspect
import signal
import socket
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

from gradio_client import Client, handle_file

from tests.kotaemon_standin import environment
from tests.support.e2e import APPS, instrumented_environment
from tests.support.otlp_receiver import OtlpReceiver

USER_ID = "alice@example.com"
"""The user the app puts in its `user_id` state (ktem's, without user management, is "default")."""
QUESTION_CHAIN = ("/chat_fn", "/lambda", "/check_and_suggest_name_conv", "/suggest_chat_conv", "/persist_data_source")
"""What ktem's chat page runs after `submit_msg`, in order; every one but the lambda takes the chat history."""
QUIET = {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "GRADIO_SERVER_NAME": "127.0.0.1"}
HUNG_APP_DUMP = {"PYTHONFAULTHANDLER": "1"}
"""An app that does not stop is sent SIGABRT, on which Python prints every thread's stack to the app's log."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class GradioApp:
    """`opentelemetry-instrument python ktem_gradio_app.py` until `stop()` (SIGINT, as Ctrl+C), then its output;
    `python ktem_gradio_app.py` alone when not `instrumented` (the same environment)."""

    def __init__(
        self, receiver: OtlpReceiver, base_url: str, workdir: Path, env: dict[str, str], instrumented: bool = True
    ) -> None:
        self.instrumented = instrumented
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = workdir / "app.log"
        launcher = [str(Path(sys.executable).with_name("opentelemetry-instrument"))] if instrumented else []
        command = [*launcher, sys.executable, str(APPS / "ktem_gradio_app.py"), base_url, str(self.port)]
        environment_ = instrumented_environment(
            receiver.endpoint, base_url, {**environment(), **QUIET, **HUNG_APP_DUMP, **env}
        )
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                command, env=environment_, cwd=str(workdir), stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 120
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=5).close()
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.process.kill()
                    raise AssertionError("the app did not start:\n" + self.log.read_text()) from None
                time.sleep(0.1)

    def client(self, headers: dict[str, str] | None = None) -> Client:
        """A new browser session (its own session hash), sending `headers` with every request."""
        options: dict[str, Any] = {"verbose": False, "headers": headers, "download_files": False}
        if "analytics_enabled" in inspect.signature(Client.__init__).parameters:
            options["analytics_enabled"] = False
        return Client(self.url, **options)

    def stop(self) -> str:
        """Ctrl+C: Gradio closes its server, the process exits and exports what it has. Returns its output. The bare
        app is sent Ctrl+C again every 15 s: Gradio's main thread, sleeping in `block_thread`, was seen to miss one
        (still sleeping there a minute later, in the soak benchmark); an instrumented app gets exactly one, so that a
        stop our instrumentation delays or swallows fails."""
        presses = 1 if self.instrumented else 4
        for _ in range(presses):
            if self.process.poll() is not None:
                break
            self.process.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(60 / presses)
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGABRT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
            raise AssertionError(
                f"the app did not stop ({' '.join(self.process.args)}), its output and threads:\n"
                + self.log.read_text()
            )
        output = self.log.read_text()
        assert self.process.returncode == 0, output
        return output


def upload(client: Client, *paths: Path) -> str:
    """ktem's quick upload: the upload event, the indexing event chained after it, then the file list."""
    client.predict(api_name="/upload_started")
    status = str(client.predict([handle_file(str(p)) for p in paths], api_name="/index_fn_file_with_default_loaders"))
    client.predict(api_name="/load_files")
    return status


def send_with_event_data(client: Client, api_name: str, event_data: dict[str, Any], *data: Any) -> Any:
    """Send an event that carries event data, as the browser does for a like (`gr.LikeData`): gradio_client sends
    none, so it is added to the request the client sends."""
    send = client.send_data

    def with_event_data(payload: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        return send({**payload, "event_data": event_data}, *args, **kwargs)

    client.send_data = with_event_data  # type: ignore[method-assign]
    try:
        return client.predict(*data, api_name=api_name)
    finally:
        del client.send_data


def like(client: Client, history: list[Any], row: int, liked: bool) -> None:
    """A thumbs up (or down) on the answer of exchange `row`, as Gradio's chatbot sends it: `[row, 1]` in a chat of
    pairs (Gradio 4, ktem's), the message's position in a chat of messages (Gradio 5 and later)."""
    answer = history[row][1] if row < len(history) else "?"
    if int(version("gradio").split(".")[0]) < 5:
        data = {"index": [row, 1], "value": answer, "liked": liked}
    else:
        data = {"index": 2 * row + 1, "value": [answer], "liked": liked}
    send_with_event_data(client, "/is_liked", data)


def ask(client: Client, question: str, history: list[Any]) -> list[Any]:
    """One question as ktem's chat page sends it; returns the chat history with the answer."""
    _, history = client.predict(question, history, api_name="/submit_msg")
    for api_name in QUESTION_CHAIN:
        if api_name == "/lambda":
            client.predict(api_name=api_name)
        elif api_name == "/chat_fn":
            history, _ = client.predict(history, api_name=api_name)
        else:
            client.predict(history, api_name=api_name)
    return list(history)
