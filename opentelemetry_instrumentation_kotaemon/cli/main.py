"""`opentelemetry-kotaemon doctor`, `opentelemetry-kotaemon bootstrap` and `opentelemetry-kotaemon view`.

`doctor` prints what `opentelemetry-instrument` will do in this environment: the effective settings, which
libraries are found and instrumented, which distro and configurator win, duplicate instrumentations installed beside
us, and version skew. `bootstrap` is `opentelemetry-bootstrap` minus the instrumentations that would trace the same
calls as this package twice (the stock command cannot see third-party plugins and suggests those). `view FILE` prints
the telemetry in a file of OTLP JSON lines (our `kotaemon_file` exporters' or a Collector's `file` exporter's): each
trace as a tree, a metrics summary and the log records.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

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
    args, rest = parser.parse_known_args(argv)
    if args.command == "doctor":
        logging.basicConfig(format="WARNING: %(message)s", level=logging.WARNING)  # our own command, not an app
        sys.exit(1 if doctor() else 0)
    if args.command == "view":
        if rest:
            parser.error(f"unrecognized arguments: {' '.join(rest)}")
        sys.exit(view_file(args.file))
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
