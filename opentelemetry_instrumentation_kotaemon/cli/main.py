"""`opentelemetry-kotaemon doctor`, `bootstrap`, `view` and `spool`.

`doctor` prints what `opentelemetry-instrument` will do in this environment: the effective settings, which
libraries are found and instrumented, which distro and configurator win, duplicate instrumentations installed beside
us, and version skew. `bootstrap` is `opentelemetry-bootstrap` minus the instrumentations that would trace the same
calls as this package twice (the stock command cannot see third-party plugins and suggests those). `view FILE` prints
the telemetry in a file of OTLP JSON lines (our `kotaemon_file` exporters' or a Collector's `file` exporter's): each
trace as a tree, a metrics summary and the log records. `spool` lists what waits in the spool on disk
(`OTEL_KOTAEMON_SPOOL_DIR`) for the collector, and with `--send` sends it.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from .bootstrap import bootstrap
from .doctor import doctor


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the `opentelemetry-kotaemon` command."""
    parser = argparse.ArgumentParser(prog="opentelemetry-kotaemon", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("doctor", help="show what will be instrumented and how, and what to fix")
    commands.add_parser(
        "bootstrap", help="like opentelemetry-bootstrap, without duplicate GenAI instrumentations", add_help=False
    )
    view_command = commands.add_parser("view", help="print the traces, metrics and logs in a file of OTLP JSON lines")
    view_command.add_argument("file", help="a file written by the kotaemon_file exporters or a Collector file exporter")
    spool_command = commands.add_parser("spool", help="list the telemetry waiting in the spool on disk, or send it")
    spool_command.add_argument("--dir", help="the spool directory (default: OTEL_KOTAEMON_SPOOL_DIR)")
    spool_command.add_argument(
        "--send", action="store_true", help="send what ended processes left to the collector the environment names"
    )
    args, rest = parser.parse_known_args(argv)
    if args.command == "doctor":
        logging.basicConfig(format="WARNING: %(message)s", level=logging.WARNING)  # our own command, not an app
        sys.exit(1 if doctor() else 0)
    if args.command == "view":
        if rest:
            parser.error(f"unrecognized arguments: {' '.join(rest)}")
        sys.exit(view_file(args.file))
    if args.command == "spool":
        if rest:
            parser.error(f"unrecognized arguments: {' '.join(rest)}")
        sys.exit(spool(args.dir, args.send))
    bootstrap(rest)


def view_file(path: str) -> int:
    """Print the telemetry in the file at `path`; notes about skipped lines go to stderr. 1 if it cannot be read."""
    from .view import view

    try:
        view(path, note=lambda text: print(text, file=sys.stderr))
    except OSError as error:
        print(f"cannot read {path}: {error.strerror or error}", file=sys.stderr)
        return 1
    return 0


def spool(directory: str | None, send: bool) -> int:
    """List (or with `send`, send) what waits in the spool; 1 when it cannot be read or something was not sent, 2
    when there is no spool to look at."""
    from ..settings import read_spool_directory
    from .spool import list_spool, send_spool

    directory = directory or read_spool_directory()
    if directory is None:
        print("no spool: set OTEL_KOTAEMON_SPOOL_DIR or pass --dir", file=sys.stderr)
        return 2
    if not Path(directory).exists():
        print(f"nothing waiting: {directory} does not exist")
        return 0
    logging.basicConfig(format="WARNING: %(message)s", level=logging.WARNING)  # our own command, not an app
    try:
        if send:
            return send_spool(Path(directory), print, lambda text: print(text, file=sys.stderr))
        return list_spool(Path(directory), print)
    except OSError as error:
        print(f"cannot read the spool {directory}: {error.strerror or error}", file=sys.stderr)
        return 1
