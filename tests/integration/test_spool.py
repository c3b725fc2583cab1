"""The spool with real processes: one killed while it writes leaves only whole batches, two processes adopting the
files of ended ones at the same moment never both take a file, and a forked child spools apart from its parent."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest

from opentelemetry_instrumentation_kotaemon.sdk import spool
from opentelemetry_instrumentation_kotaemon.sdk.delivery.store import Batch
from opentelemetry_instrumentation_kotaemon.sdk.spool import SpoolStore

SERVICE = "rag"
MAX_AGE = 900.0
BIG = 1 << 30

_WRITER = """
import sys, time
from pathlib import Path
from opentelemetry_instrumentation_kotaemon.sdk.delivery.store import Batch
from opentelemetry_instrumentation_kotaemon.sdk.spool import SpoolStore
store = SpoolStore(Path(sys.argv[1]), "rag", 1 << 30, 900.0)
print(store.process_directory, flush=True)
number = 0
while True:
    number += 1
    store.put(Batch("traces", number.to_bytes(4, "big") * (1 << 18), number, time.time()))
"""


def test_a_process_killed_while_writing_leaves_whole_batches_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "spool"
    with subprocess.Popen([sys.executable, "-c", _WRITER, str(root)], stdout=subprocess.PIPE, text=True) as writer:
        assert writer.stdout is not None
        directory = Path(writer.stdout.readline().strip())
        deadline = time.monotonic() + 30
        while len(list(directory.glob("*" + spool.BATCH_SUFFIX))) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        writer.send_signal(signal.SIGKILL)  # 1 MiB batches, each fsynced: most likely mid-write
    written = len(list(directory.glob("*" + spool.BATCH_SUFFIX)))
    assert written >= 3

    adopter = SpoolStore(root, SERVICE, BIG, MAX_AGE)
    with caplog.at_level(logging.WARNING, logger=spool.__name__):
        assert adopter.adopt() == written
        numbers = []
        while (batch := adopter.oldest()) is not None:
            numbers.append(batch.items)
            assert batch.payload == batch.items.to_bytes(4, "big") * (1 << 18)
            adopter.remove(batch)
    assert not caplog.records, "a whole batch read as damaged"
    assert numbers == list(range(1, written + 1))
    assert not directory.exists(), "the temporary file of the cut write is left"
    adopter.close()


def _adopt(root: Path, start: Barrier, results: Queue[tuple[int, list[str]]]) -> None:
    store = SpoolStore(root, SERVICE, BIG, MAX_AGE)
    start.wait()
    count = store.adopt()
    results.put((count, sorted(path.name for path in store.process_directory.glob("*" + spool.BATCH_SUFFIX))))
    start.wait()  # both done: a closed store's files are for the next adopter, the other one
    store.close()


def test_two_processes_adopting_at_once_never_take_the_same_file(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    for process in range(20):  # twenty ended processes of the service, ten batches each
        ended = SpoolStore(root, SERVICE, BIG, MAX_AGE)
        for number in range(10):
            ended.put(Batch("traces", bytes(64), process * 10 + number, time.time()))
        ended.close()
    expected = sorted(path.name for path in root.rglob("*" + spool.BATCH_SUFFIX))
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(2), context.Queue()
    adopters = [context.Process(target=_adopt, args=(root, start, results)) for _ in range(2)]
    for adopter in adopters:
        adopter.start()
    (first_count, first), (second_count, second) = results.get(timeout=60), results.get(timeout=60)
    for adopter in adopters:
        adopter.join(10)
    assert (first_count, second_count) == (len(first), len(second))
    assert not set(first) & set(second)
    assert sorted(first + second) == expected


def test_a_forked_child_spools_into_a_directory_of_its_own(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    store = SpoolStore(root, SERVICE, BIG, MAX_AGE)
    store.put(Batch("traces", bytes(64), 1, time.time()))
    parent_directory = store.process_directory
    child = os.fork()
    if child == 0:  # pragma: no cover - the child
        code = 1
        try:
            store.put(Batch("traces", bytes(64), 2, time.time()))
            code = 0 if store.pending() == (1, 2) and store.process_directory != parent_directory else 3
        finally:
            os._exit(code)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert store.pending() == (1, 1) and store.process_directory == parent_directory
    adopter = SpoolStore(root, SERVICE, BIG, MAX_AGE)
    assert adopter.adopt() == 1  # the ended child's batch; the parent's directory is still held by the parent
    assert adopter.oldest().items == 2  # type: ignore[union-attr]
    adopter.close()
    store.close()
