"""The spool on disk: batches kept in files whole, private, bounded, read back in order, adopted from ended processes
only, skipped with a warning when damaged (processes killed mid-write and adopting at once:
tests/integration/test_spool.py; an app under `opentelemetry-instrument`: tests/e2e/test_spool.py)."""

from __future__ import annotations

import logging
import os
import shutil
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from opentelemetry_instrumentation_kotaemon import settings
from opentelemetry_instrumentation_kotaemon.cli.main import main
from opentelemetry_instrumentation_kotaemon.sdk import spool
from opentelemetry_instrumentation_kotaemon.sdk.delivery.store import Batch
from opentelemetry_instrumentation_kotaemon.sdk.spool import SpoolStore, waiting

SERVICE = "rag app/eu"
MAX_AGE = 900.0


def _batch(number: int, size: int = 1000, signal: str = "traces", created: float | None = None) -> Batch:
    payload = number.to_bytes(4, "big") * (size // 4)
    return Batch(signal, payload, number, time.time() if created is None else created)


def _batch_files(root: Path) -> list[Path]:
    return sorted(root.rglob("*" + spool.BATCH_SUFFIX))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "spool"


@pytest.fixture
def store(root: Path) -> Iterator[SpoolStore]:
    store = SpoolStore(root, SERVICE, 1 << 20, MAX_AGE)
    yield store
    store.close()


def test_batches_come_back_oldest_first_whole_and_are_deleted_once_removed(store: SpoolStore) -> None:
    start = time.time()
    batches = [_batch(n, created=start + n) for n in (1, 2, 3)]
    for batch in reversed(batches):  # put in any order: the file names sort by age
        assert store.put(batch) == []
    assert store.pending() == (3, 6)
    names = [path.name for path in _batch_files(store.process_directory)]
    assert names == sorted(names) and len(names) == 3
    for batch in batches:
        read = store.oldest()
        assert read == batch and read is not batch  # read back from its file
        store.remove(read)
    assert store.oldest() is None and store.pending() == (0, 0)
    assert _batch_files(store.directory) == []


def test_directories_are_0700_and_files_0600_whatever_the_umask(root: Path) -> None:
    before = os.umask(0)
    try:
        store = SpoolStore(root, SERVICE, 1 << 20, MAX_AGE)
        store.put(_batch(1))
    finally:
        os.umask(before)
    modes = {path: stat.S_IMODE(path.stat().st_mode) for path in [root, *root.rglob("*")]}
    assert {mode for path, mode in modes.items() if path.is_dir()} == {0o700}
    assert {mode for path, mode in modes.items() if path.is_file()} == {0o600}
    assert len([path for path in modes if path.is_file()]) == 2  # the lock and the batch
    store.close()


def test_each_service_and_process_has_a_directory_of_its_own(root: Path) -> None:
    first, second = SpoolStore(root, SERVICE, 1 << 20, MAX_AGE), SpoolStore(root, SERVICE, 1 << 20, MAX_AGE)
    other = SpoolStore(root, "another", 1 << 20, MAX_AGE)
    assert first.service_directory == second.service_directory != other.service_directory
    assert first.process_directory != second.process_directory
    assert first.service_directory.name.startswith("rag_app_eu-")  # unsafe characters replaced, the name hashed
    assert spool.service_directory_name("rag_app_eu") != first.service_directory.name
    assert spool.service_directory_name("../x") != ".._x" and "/" not in spool.service_directory_name("../x")
    for store in (first, second, other):
        store.close()


def test_past_the_byte_bound_the_oldest_batches_are_evicted_and_returned(root: Path) -> None:
    store = SpoolStore(root, SERVICE, 3500, MAX_AGE)  # three batches of 1000 bytes and their headers
    evicted = [store.put(_batch(n)) for n in range(1, 6)]
    assert [[b.items for b in dropped] for dropped in evicted] == [[], [], [], [1], [2]]
    assert store.pending() == (3, 3 + 4 + 5)
    assert len(_batch_files(root)) == 3
    assert sum(path.stat().st_size for path in _batch_files(root)) <= 3500
    assert store.oldest() == _batch(3, created=store.oldest().created)  # type: ignore[union-attr]
    too_big = _batch(6, size=4000)
    assert store.put(too_big) == [too_big] and store.pending() == (3, 12)
    store.close()


def test_batches_older_than_the_age_bound_expire(store: SpoolStore) -> None:
    now = time.time()
    store.put(_batch(1, created=now - MAX_AGE - 10))
    store.put(_batch(2, created=now))
    assert [b.items for b in store.expire(now)] == [1]
    assert store.pending() == (1, 2) and len(_batch_files(store.directory)) == 1


def test_files_of_an_ended_process_are_adopted_and_a_live_ones_are_not(root: Path) -> None:
    live = SpoolStore(root, SERVICE, 1 << 20, MAX_AGE)
    ended = SpoolStore(root, SERVICE, 1 << 20, MAX_AGE)
    start = time.time()
    live.put(_batch(1, created=start))
    ended.put(_batch(2, created=start + 1))
    ended.put(_batch(3, created=start + 2, signal="logs"))
    ended.close()  # what an exit does; a killed process's lock goes the same way
    ended_directory = ended.process_directory

    adopter = SpoolStore(root, SERVICE, 1 << 20, MAX_AGE)  # same pid: the lock, not the pid, tells who lives
    assert adopter.adopt() == 2
    assert not ended_directory.exists()
    assert adopter.pending() == (2, 5) and live.pending() == (1, 1)
    assert [path.parent for path in _batch_files(root)].count(live.process_directory) == 1
    assert adopter.oldest() == _batch(2, created=start + 1)
    assert adopter.adopt() == 0  # nothing left to take
    live.close()
    assert adopter.adopt() == 1
    assert [b.items for b in iter(adopter.oldest, None) if not adopter.remove(b)] == [1, 2, 3]
    adopter.close()
    assert _batch_files(root) == []


def test_a_store_of_one_signal_adopts_that_signals_files_only(root: Path) -> None:
    ended = SpoolStore(root, SERVICE, 1 << 20, MAX_AGE)
    ended.put(_batch(1, signal="traces"))
    ended.put(_batch(2, signal="logs"))
    ended.close()
    traces = SpoolStore(root, SERVICE, 1 << 20, MAX_AGE, signal="traces")
    logs = SpoolStore(root, SERVICE, 1 << 20, MAX_AGE, signal="logs")
    assert (traces.adopt(), logs.adopt()) == (1, 1)
    assert traces.oldest().signal == "traces" and logs.oldest().signal == "logs"  # type: ignore[union-attr]
    assert not ended.process_directory.exists()
    traces.close()
    logs.close()


def test_a_temporary_file_left_by_a_write_cut_short_is_never_read_and_is_cleaned_up(root: Path) -> None:
    ended = SpoolStore(root, SERVICE, 1 << 20, MAX_AGE)
    ended.put(_batch(1))
    whole = _batch_files(root)[0].read_bytes()
    cut = ended.process_directory / f".cut.traces{spool.BATCH_SUFFIX}{spool.TEMPORARY_SUFFIX}"
    cut.write_bytes(whole[: len(whole) // 2])  # what a process killed mid-write leaves
    os.close(ended._lock_fd)  # the process dies holding its directory: no close()
    ended._lock_fd = -1

    adopter = SpoolStore(root, SERVICE, 1 << 20, MAX_AGE)
    assert adopter.adopt() == 1
    assert not cut.exists() and not ended.process_directory.exists()
    assert adopter.oldest() is not None and adopter.pending() == (1, 1)
    adopter.close()


def test_a_corrupt_file_is_skipped_with_one_warning_naming_it(root: Path, caplog: pytest.LogCaptureFixture) -> None:
    ended = SpoolStore(root, SERVICE, 1 << 20, MAX_AGE)
    start = time.time()
    for n in (1, 2, 3):
        ended.put(_batch(n, created=start + n))
    ended.close()
    first, second, _ = _batch_files(root)
    first.write_bytes(b"\x00garbage")  # not a batch file at all
    second.write_bytes(second.read_bytes()[:-10])  # cut short

    adopter = SpoolStore(root, SERVICE, 1 << 20, MAX_AGE)
    with caplog.at_level(logging.WARNING, logger=spool.__name__):
        assert adopter.adopt() == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert first.name in warnings[0] and second.name in warnings[1]  # adopted first, then read
    assert sorted(p.name for p in (adopter.service_directory / spool.CORRUPT_DIRECTORY).iterdir()) == sorted(
        [first.name, second.name]
    )
    assert adopter.oldest() == _batch(3, created=start + 3)
    adopter.close()


def test_a_file_damaged_after_it_was_written_is_skipped_when_read(
    store: SpoolStore, caplog: pytest.LogCaptureFixture
) -> None:
    start = time.time()
    store.put(_batch(1, created=start))
    store.put(_batch(2, created=start + 1))
    damaged = _batch_files(store.directory)[0]
    data = bytearray(damaged.read_bytes())
    data[-1] ^= 0xFF  # one flipped bit in the payload
    damaged.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger=spool.__name__):
        assert store.oldest() == _batch(2, created=start + 1)
    assert [r.getMessage() for r in caplog.records if str(damaged) in r.getMessage()]
    assert store.pending() == (1, 2)


def test_a_directory_that_cannot_be_created_raises_oserror(tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    with pytest.raises(OSError):
        SpoolStore(a_file, SERVICE, 1 << 20, MAX_AGE)
    with pytest.raises(OSError):
        SpoolStore(a_file / "below", SERVICE, 1 << 20, MAX_AGE)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_read_only_directory_raises_oserror(tmp_path: Path) -> None:
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(OSError):
            SpoolStore(tmp_path / "spool", SERVICE, 1 << 20, MAX_AGE)
    finally:
        tmp_path.chmod(0o700)


def test_when_writing_fails_later_batches_stay_in_memory_with_one_warning(
    store: SpoolStore, caplog: pytest.LogCaptureFixture
) -> None:
    shutil.rmtree(store.process_directory)  # the volume went away under the process
    with caplog.at_level(logging.WARNING, logger=spool.__name__):
        assert store.put(_batch(1)) == []
        assert store.put(_batch(2)) == []
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "cannot write to the spool" in warnings[0]
    assert store.pending() == (2, 3)
    read = store.oldest()
    assert read is not None and read.items == 1
    store.remove(read)
    assert store.pending() == (1, 2)


def test_what_waits_is_listed_per_service_without_changing_anything(root: Path) -> None:
    ended = SpoolStore(root, SERVICE, 1 << 20, MAX_AGE)
    ended.put(_batch(2, created=1000.0))
    ended.put(_batch(3, signal="logs", created=2000.0))
    ended.close()
    live = SpoolStore(root, "other", 1 << 20, MAX_AGE)
    live.put(_batch(5))
    before = sorted(root.rglob("*"))
    listed = {service.name: service for service in waiting(root)}
    assert sorted(root.rglob("*")) == before
    rag = listed[ended.service_directory.name]
    assert (rag.batches, rag.items, rag.oldest, rag.running) == (2, {"traces": 2, "logs": 3}, 1000.0, 0)
    assert rag.size == sum(path.stat().st_size for path in _batch_files(ended.service_directory))
    other = listed["other"]
    assert (other.batches, other.items, other.running) == (1, {"traces": 5}, 1)
    live.close()


def test_the_spool_command_lists_what_waits_and_what_cannot_be_read(
    root: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ended = SpoolStore(root, SERVICE, 1 << 20, MAX_AGE)
    ended.put(_batch(1, created=time.time() - 600))
    ended.put(_batch(2, signal="logs"))
    ended.put(_batch(3))
    ended.close()
    _batch_files(root)[-1].write_bytes(b"damaged")
    monkeypatch.setenv("OTEL_KOTAEMON_SPOOL_DIR", str(root))
    with pytest.raises(SystemExit) as exit_status:
        main(["spool"])
    assert exit_status.value.code == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{ended.service_directory.name}: 2 batches (1 span, 2 log records), 2.")
    assert out[0].endswith("KiB, oldest 10 min old")
    assert out[1] == f"  cannot read {_batch_files(root)[-1]}"


def test_the_spool_command_without_a_spool_says_how_to_name_one(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("OTEL_KOTAEMON_SPOOL_DIR", raising=False)
    with pytest.raises(SystemExit) as exit_status:
        main(["spool", "--send"])
    assert exit_status.value.code == 2
    assert "OTEL_KOTAEMON_SPOOL_DIR" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_status:
        main(["spool", "--dir", str(tmp_path / "none")])
    assert exit_status.value.code == 0
    assert "nothing waiting" in capsys.readouterr().out


def test_the_spool_settings_read_sizes_with_units_and_fall_back_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    read = settings.SPOOL_MAX_BYTES.read
    assert read({}) == 256 << 20
    assert [read({"OTEL_KOTAEMON_SPOOL_MAX_BYTES": v}) for v in ("1GiB", "512 mib", "2097152")] == [
        1 << 30,
        512 << 20,
        2 << 20,
    ]
    with caplog.at_level(logging.WARNING):
        assert read({"OTEL_KOTAEMON_SPOOL_MAX_BYTES": "1000"}) == 1 << 20  # the smallest bound, not the default
        assert read({"OTEL_KOTAEMON_SPOOL_MAX_BYTES": "lots"}) == 256 << 20
        a_file = tmp_path / "a-file"
        a_file.write_text("")
        assert settings.read_spool_directory({"OTEL_KOTAEMON_SPOOL_DIR": str(a_file)}) is None
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 3 and "using no spool instead" in warnings[2]
    assert settings.read_spool_directory({}) is None
    assert settings.read_spool_directory({"OTEL_KOTAEMON_SPOOL_DIR": "spool"}) == os.path.abspath("spool")
    environ = {"OTEL_RESOURCE_ATTRIBUTES": "a=b,service.name=rag%20app"}
    assert spool.service_name(environ) == "rag app"
    assert spool.service_name({**environ, "OTEL_SERVICE_NAME": "named"}) == "named"
    assert spool.service_name({}) == "unknown_service"
