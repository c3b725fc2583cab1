"""A spool on disk: the batches the collector has not taken, kept in files, so that an exit or a crash loses nothing.

Layout, under the directory of `OTEL_KOTAEMON_SPOOL_DIR`::

    <directory>/<service>/<pid>-<start>-<token>/lock          held (flock) by the process for its life
    <directory>/<service>/<pid>-<start>-<token>/<created>-<token>-<seq>.<signal>.batch
    <directory>/<service>/corrupt/...                           files that could not be read, kept for inspection

Each process writes only into a directory of its own, so processes never contend for a file; a batch file is a
self-contained OTLP request (its resource included), so nothing mixes. File names sort oldest first. A batch is
written under a temporary name, fsynced and renamed: a killed process leaves whole batches and perhaps a temporary
file, which is ignored and removed by whoever adopts the directory. Directories are 0700, files 0600.

`SpoolStore.adopt` moves the batches of ended processes of the same service into this process's queue. A process
holds an flock on its `lock` file while it lives (the kernel releases it however the process ends, and the lock is
seen by every process sharing the volume, where pids are not), so a directory whose lock can be taken has no live
owner. The rename of each file is the claim: two processes adopting at once never both take a file.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import logging
import os
import re
import secrets
import sys
import threading
import time
import urllib.parse
import weakref
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from hashlib import sha256
from pathlib import Path

from .delivery.store import Batch

if sys.platform != "win32":
    import fcntl

logger = logging.getLogger(__name__)

LOCK_NAME = "lock"
CORRUPT_DIRECTORY = "corrupt"
BATCH_SUFFIX = ".batch"
TEMPORARY_SUFFIX = ".tmp"
_MAGIC = b"otel-kotaemon-spool/1 "
_HEADER_LIMIT = 4096
_SIGNALS = frozenset({"traces", "logs"})
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class CorruptBatchFile(ValueError):
    """A batch file that is not one this module wrote whole."""


def service_directory_name(service: str) -> str:
    """The directory name of a service: its name with unsafe characters replaced (and a hash of the name added when
    any were, so two names never share a directory by accident)."""
    if service and len(service) <= 100 and not service.startswith(".") and not _UNSAFE.search(service):
        return service
    safe = _UNSAFE.sub("_", service)[:80].lstrip(".")
    return f"{safe or 'service'}-{sha256(service.encode()).hexdigest()[:8]}"


def service_name(environ: Mapping[str, str] | None = None) -> str:
    """The service whose spool a process uses: `OTEL_SERVICE_NAME`, else the `service.name` of
    `OTEL_RESOURCE_ATTRIBUTES` (as the SDK's resource has it), else `unknown_service`."""
    environ = os.environ if environ is None else environ
    name = (environ.get("OTEL_SERVICE_NAME") or "").strip()
    for item in (environ.get("OTEL_RESOURCE_ATTRIBUTES") or "").split(","):
        key, _, value = item.partition("=")
        if not name and key.strip() == "service.name":
            name = urllib.parse.unquote(value.strip())
    return name or "unknown_service"


@dataclass(frozen=True)
class _Header:
    """What a batch file says about itself, on its first line."""

    signal: str
    items: int
    created: float
    size: int
    crc: int

    def encode(self) -> bytes:
        fields = {"signal": self.signal, "items": self.items, "created": self.created, "size": self.size}
        return _MAGIC + json.dumps({**fields, "crc32": self.crc}, separators=(",", ":")).encode() + b"\n"

    @classmethod
    def decode(cls, data: bytes) -> tuple[_Header, int]:
        """The header at the start of `data` and where the payload begins; raises CorruptBatchFile."""
        end = data.find(b"\n", 0, _HEADER_LIMIT)
        if not data.startswith(_MAGIC) or end < 0:
            raise CorruptBatchFile("not a spool batch file")
        try:
            fields = json.loads(data[len(_MAGIC) : end])
            signal, items, created = str(fields["signal"]), int(fields["items"]), float(fields["created"])
            header = cls(signal, items, created, int(fields["size"]), int(fields["crc32"]))
        except (ValueError, TypeError, KeyError):
            raise CorruptBatchFile("unreadable header") from None
        if header.signal not in _SIGNALS or header.size < 0 or header.items < 0:
            raise CorruptBatchFile("unexpected header values")
        return header, end + 1


def _batch_key(signal: str, created: float, items: int, payload: bytes) -> tuple[str, float, int, int, int]:
    return signal, created, items, len(payload), zlib.crc32(payload)


@dataclass
class _Entry:
    """One pending batch: its file, or its payload when the file could not be written."""

    name: str
    """The file name; names sort oldest first."""
    header: _Header
    size: int
    """What it takes of the bound: the file's size."""
    payload: bytes | None = field(default=None, repr=False)
    """Held in memory only while the spool cannot be written."""

    @property
    def key(self) -> tuple[str, float, int, int, int]:
        h = self.header
        return h.signal, h.created, h.items, h.size, h.crc

    def as_batch(self, payload: bytes = b"") -> Batch:
        return Batch(self.header.signal, payload, self.header.items, self.header.created)


def _private_directory(path: Path) -> None:
    """Create `path` (mode 0700) unless it exists; raises OSError when it cannot be, or is not a directory."""
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        if not path.is_dir():
            raise NotADirectoryError(f"{path} is not a directory") from None


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_batch_file(path: Path, header_only: bool) -> tuple[_Header, bytes]:
    """The header and payload of a batch file (an empty payload with `header_only`, after a size check); raises
    CorruptBatchFile or OSError."""
    with path.open("rb") as file:
        data = file.read(_HEADER_LIMIT) if header_only else file.read()
        header, start = _Header.decode(data)
        if header_only:
            file.seek(0, os.SEEK_END)
            if file.tell() != start + header.size:
                raise CorruptBatchFile("truncated")
            return header, b""
    payload = data[start:]
    if len(payload) != header.size or zlib.crc32(payload) != header.crc:
        raise CorruptBatchFile("truncated or damaged")
    return header, payload


class SpoolStore:
    """A `BatchStore` in files: this process's batches of one service under `directory`, at most `max_bytes` of them
    (oldest evicted first), none older than `max_age` seconds.

    The constructor creates the directories and raises OSError when it cannot (read-only file system, no
    permission, not a directory). A batch that cannot be written later is held in memory instead (one warning), within
    the same bound. A file that cannot be read back is moved to `<service>/corrupt/` with one warning and skipped.
    The batches `put` and `expire` return as dropped carry no payload (their files are deleted unread). With
    `signal` ("traces" or "logs"), a store of one signal's exporter adopts that signal's files only.
    """

    def __init__(
        self, directory: Path, service: str, max_bytes: int, max_age: float, signal: str | None = None
    ) -> None:
        if sys.platform == "win32":
            raise OSError("the spool needs POSIX file locks")
        self.directory = Path(directory)
        self.service_directory = self.directory / service_directory_name(service)
        self.max_bytes = max_bytes
        self.max_age = max_age
        self._adopted_suffix = BATCH_SUFFIX if signal is None else f".{signal}{BATCH_SUFFIX}"
        self._lock = threading.Lock()
        os.register_at_fork(after_in_child=functools.partial(_renew_lock, weakref.ref(self)))
        self._queue: list[_Entry] = []  # sorted by name: oldest first
        self._bytes = 0
        self._items = 0
        self._warned_write = False
        self._writable = False
        self._lock_fd = -1
        self._open_process_directory()

    # --- BatchStore

    def put(self, batch: Batch) -> list[Batch]:
        header = _Header(batch.signal, batch.items, batch.created, len(batch.payload), zlib.crc32(batch.payload))
        encoded = header.encode()
        size = len(encoded) + header.size
        with self._lock:
            self._follow_fork()
            name = f"{int(batch.created * 1_000_000):017d}-{self._token}-{next(self._sequence):08d}.{batch.signal}"
            entry = _Entry(name + BATCH_SUFFIX, header, size)
            if size > self.max_bytes:
                return [batch]
            evicted = []
            while self._queue and self._bytes + size > self.max_bytes:
                evicted.append(self._drop(self._queue[0]))
            try:
                self._write(entry.name, encoded, batch.payload)
            except OSError as error:
                self._warn_write(error)
                entry.payload = batch.payload  # still sent when the collector is back
            self._insert(entry)
            return evicted

    def oldest(self) -> Batch | None:
        with self._lock:
            self._follow_fork()
            while self._queue:
                entry = self._queue[0]
                if entry.payload is not None:
                    return entry.as_batch(entry.payload)
                path = self.process_directory / entry.name
                try:
                    header, payload = _read_batch_file(path, header_only=False)
                    if header != entry.header:
                        raise CorruptBatchFile("changed since it was written")
                except (OSError, CorruptBatchFile) as error:
                    self._forget(entry)
                    self._quarantine(path, error)
                    continue
                return entry.as_batch(payload)
            return None

    def remove(self, batch: Batch) -> None:
        key = _batch_key(batch.signal, batch.created, batch.items, batch.payload)
        with self._lock:
            entry = next((held for held in self._queue if held.key == key), None)
            if entry is not None:
                self._drop(entry)

    def expire(self, now: float) -> list[Batch]:
        with self._lock:
            expired = []
            while self._queue and now - self._queue[0].header.created > self.max_age:  # oldest first
                expired.append(self._drop(self._queue[0]))
            return expired

    def pending(self) -> tuple[int, int]:
        with self._lock:
            return len(self._queue), self._items

    def close(self) -> None:
        """Keep the files for the next start of the service (batches held in memory get one more try to be written);
        give up the directory: its lock is released, and it is removed when empty."""
        with self._lock:
            if self._lock_fd < 0 or self._pid != os.getpid():
                return
            for entry in self._queue:
                if entry.payload is not None:
                    try:
                        self._write(entry.name, entry.header.encode(), entry.payload)
                    except OSError:
                        continue
                    entry.payload = None
            if not self._queue:
                try:
                    (self.process_directory / LOCK_NAME).unlink()
                    self.process_directory.rmdir()
                except OSError as error:
                    logger.debug("spool directory %s not removed: %s", self.process_directory, error)
            os.close(self._lock_fd)
            self._lock_fd = -1

    # --- Adoption

    def adopt(self) -> int:
        """Move the batches of ended processes of this service into this process's queue; the number taken."""
        with self._lock:
            self._follow_fork()
            if not self._writable:
                return 0
            adopted = 0
            try:
                names = sorted(os.listdir(self.service_directory))
            except OSError as error:
                logger.debug("spool %s not read: %s", self.service_directory, error)
                return 0
            for name in names:
                directory = self.service_directory / name
                if name.startswith(".") or name == CORRUPT_DIRECTORY or directory == self.process_directory:
                    continue
                adopted += self._adopt_directory(directory)
            return adopted

    def _adopt_directory(self, directory: Path) -> int:
        try:
            fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CLOEXEC)
        except OSError:  # not a process directory, or being removed by its owner or another adopter
            return 0
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:  # its owner lives (or another process is adopting it right now)
                return 0
            adopted = 0
            try:
                names = sorted(os.listdir(directory))
            except OSError:
                return 0
            for name in names:
                source = directory / name
                if name.endswith(TEMPORARY_SUFFIX):  # a write its process did not finish
                    _remove_quietly(source)
                elif name.endswith(self._adopted_suffix):
                    target = self.process_directory / name
                    try:
                        os.rename(source, target)  # the claim
                    except OSError as error:  # claimed by another process first, or not ours to move
                        logger.debug("spool file %s not adopted: %s", source, error)
                        continue
                    adopted += self._index(target)
            with contextlib.suppress(OSError):
                if os.listdir(directory) == [LOCK_NAME]:  # nothing left for a store of another signal
                    (directory / LOCK_NAME).unlink()
                    directory.rmdir()
            return adopted
        finally:
            os.close(fd)

    def _index(self, path: Path) -> int:
        try:
            header, _ = _read_batch_file(path, header_only=True)
        except (OSError, CorruptBatchFile) as error:
            self._quarantine(path, error)
            return 0
        self._insert(_Entry(path.name, header, len(header.encode()) + header.size))
        return 1

    # --- Internals

    def _open_process_directory(self) -> None:
        """Create this process's directory, locked, whole (set up under a dot name adoption skips, then renamed)."""
        self._pid = os.getpid()
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not self.directory.is_dir():
            raise NotADirectoryError(f"{self.directory} is not a directory")
        _private_directory(self.service_directory)
        self._token = secrets.token_hex(4)
        self._sequence: Iterator[int] = itertools.count()
        name = f"{_process_name()}.{self._token}"
        staging = self.service_directory / f".{name}"
        staging.mkdir(mode=0o700)
        try:
            fd = os.open(staging / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self.process_directory = self.service_directory / name
                os.rename(staging, self.process_directory)
            except OSError:
                os.close(fd)
                raise
        except OSError:
            _remove_quietly(staging / LOCK_NAME)
            _remove_quietly(staging)
            raise
        self._lock_fd = fd
        self._writable = True

    def _follow_fork(self) -> None:
        """In a forked child, start a directory of the child's own: the parent's batches stay the parent's."""
        if self._pid == os.getpid():
            return
        if self._lock_fd >= 0:
            os.close(self._lock_fd)  # the parent's lock stays held by the parent's descriptor
            self._lock_fd = -1
        self._queue, self._bytes, self._items = [], 0, 0
        try:
            self._open_process_directory()
        except OSError as error:
            self._writable = False
            self._warn_write(error)

    def _write(self, name: str, header: bytes, payload: bytes) -> None:
        if not self._writable:
            raise OSError(f"no spool directory of this process in {self.service_directory}")
        temporary = self.process_directory / f".{name}{TEMPORARY_SUFFIX}"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            try:
                with os.fdopen(fd, "wb") as file:
                    file.write(header)
                    file.write(payload)
                    file.flush()
                    os.fsync(file.fileno())
            except BaseException:
                _remove_quietly(temporary)
                raise
            os.rename(temporary, self.process_directory / name)
        except OSError:
            _remove_quietly(temporary)
            raise
        _fsync_directory(self.process_directory)

    def _warn_write(self, error: OSError) -> None:
        if not self._warned_write:
            self._warned_write = True
            logger.warning(
                "cannot write to the spool %s (%s): batches are kept in memory instead",
                self.process_directory,
                error.strerror or error,
            )

    def _insert(self, entry: _Entry) -> None:
        self._queue.append(entry)
        if len(self._queue) > 1 and self._queue[-2].name > entry.name:
            self._queue.sort(key=lambda held: held.name)
        self._bytes += entry.size
        self._items += entry.header.items

    def _forget(self, entry: _Entry) -> None:
        self._queue.remove(entry)
        self._bytes -= entry.size
        self._items -= entry.header.items

    def _drop(self, entry: _Entry) -> Batch:
        """Forget `entry` and delete its file."""
        self._forget(entry)
        if entry.payload is None:
            try:
                (self.process_directory / entry.name).unlink(missing_ok=True)
            except OSError as error:  # it will be sent again by whoever adopts it: at-least-once
                logger.debug("spool file %s not deleted: %s", entry.name, error)
        return entry.as_batch()

    def _quarantine(self, path: Path, error: Exception) -> None:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        target = self.service_directory / CORRUPT_DIRECTORY / path.name
        try:
            _private_directory(target.parent)
            os.rename(path, target)
        except OSError:
            logger.warning("skipping the spool file %s, which cannot be read (%s)", path, reason)
            return
        logger.warning("skipping the spool file %s, which cannot be read (%s); moved to %s", path, reason, target)


def _renew_lock(store: weakref.ref[SpoolStore]) -> None:
    """In a forked child: a new lock (another thread may have held the parent's at the fork)."""
    held = store()
    if held is not None:
        held._lock = threading.Lock()


_process: tuple[int, str] = (0, "")


def _process_name() -> str:
    """`<pid>-<start>-<random>`: this process, for the directories of its stores (one per signal)."""
    global _process
    if _process[0] != os.getpid():
        _process = (os.getpid(), f"{os.getpid()}-{int(time.time())}-{secrets.token_hex(3)}")
    return _process[1]


def _remove_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.rmdir() if path.is_dir() else path.unlink()


# --- What is waiting (the `opentelemetry-kotaemon spool` listing): read only, nothing created or moved


@dataclass
class WaitingService:
    """The batches waiting in the spool for one service."""

    name: str
    """The service's directory name."""
    batches: int = 0
    items: dict[str, int] = field(default_factory=dict)
    """Spans (`traces`) and log records (`logs`)."""
    size: int = 0
    """Bytes on disk."""
    oldest: float | None = None
    """`time.time()` when the oldest batch first failed."""
    running: int = 0
    """Processes of the service alive now, whose batches are theirs to send."""
    unreadable: list[str] = field(default_factory=list)
    """Batch files that cannot be read."""
    corrupt: int = 0
    """Files already moved to `corrupt/`."""


def waiting(directory: Path) -> list[WaitingService]:
    """What waits in the spool at `directory`, per service, read without changing anything."""
    services = []
    for service_path in sorted(p for p in Path(directory).iterdir() if p.is_dir()):
        service = WaitingService(service_path.name)
        running = set()
        for process_path in sorted(p for p in service_path.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if process_path.name == CORRUPT_DIRECTORY:
                service.corrupt += sum(1 for _ in process_path.iterdir())
                continue
            if _is_locked(process_path / LOCK_NAME):
                running.add(process_path.name.partition(".")[0])
            for path in sorted(process_path.glob("*" + BATCH_SUFFIX)):  # empty when adopted meanwhile
                try:
                    header, _ = _read_batch_file(path, header_only=True)
                except FileNotFoundError:  # adopted meanwhile
                    continue
                except (OSError, CorruptBatchFile):
                    service.unreadable.append(str(path))
                    continue
                service.batches += 1
                service.items[header.signal] = service.items.get(header.signal, 0) + header.items
                service.size += len(header.encode()) + header.size
                service.oldest = header.created if service.oldest is None else min(service.oldest, header.created)
        service.running = len(running)
        services.append(service)
    return services


def _is_locked(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False
