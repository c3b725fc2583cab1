"""What the spool on disk costs per batch: writing one (temporary file, fsync, rename, directory fsync), reading it
back and deleting it once delivered, and adopting the files an ended process left.

All of it runs in the exporter's and the delivery's threads, never in the app's calls, and only while the collector
does not take what is sent. Prints a Markdown table of medians. Usage: `python benchmarks/spool.py [--dir DIR]
[--batches N]`; DIR defaults to a temporary directory (put it on the disk the spool will use: tmpfs does not fsync).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from opentelemetry_instrumentation_kotaemon.sdk.delivery.store import Batch  # noqa: E402
from opentelemetry_instrumentation_kotaemon.sdk.spool import SpoolStore  # noqa: E402

SIZES = {"4 KiB (a few spans)": 4 << 10, "100 KiB (about 100 chat spans)": 100 << 10, "1 MiB": 1 << 20}


def _median_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:.2f} ms"


def measure(root: Path, size: int, batches: int) -> tuple[str, str, str]:
    """Median put, median oldest+remove, and adopting `batches` files, for batches of `size` bytes."""
    writer = SpoolStore(root, f"bench-{size}", 1 << 40, 3600.0)
    puts = []
    for number in range(batches):
        batch = Batch("traces", bytes([number % 256]) * size, 100, time.time())
        start = time.perf_counter()
        writer.put(batch)
        puts.append(time.perf_counter() - start)
    writer.close()
    adopter = SpoolStore(root, f"bench-{size}", 1 << 40, 3600.0)
    start = time.perf_counter()
    adopted = adopter.adopt()
    adopt_seconds = time.perf_counter() - start
    assert adopted == batches
    sends = []
    while True:
        start = time.perf_counter()
        batch = adopter.oldest()
        if batch is None:
            break
        adopter.remove(batch)
        sends.append(time.perf_counter() - start)
    adopter.close()
    return _median_ms(puts), _median_ms(sends), f"{adopt_seconds * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", help="where to write (default: a temporary directory)")
    parser.add_argument("--batches", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as directory:
        print(f"| batch | write (put) | read back and delete | adopt {args.batches} files |")
        print("|---|---:|---:|---:|")
        for label, size in SIZES.items():
            print(f"| {label} | {' | '.join(measure(Path(directory), size, args.batches))} |")


if __name__ == "__main__":
    main()
