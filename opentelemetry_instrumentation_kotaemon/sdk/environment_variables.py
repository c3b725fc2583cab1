"""Our variables as `opentelemetry-instrument` offers them as flags, and the one thing the launcher must set.

The launcher loads every entry point of the group `opentelemetry_environment_variables` and lists each with `dir()`
to make a flag of every `OTEL_*` name, in its own process, before it replaces itself with the app. Ours is
`launcher_variables`. Listing it is the one moment we can make sure this package's distro and configurator are the
ones chosen when `opentelemetry-distro` is installed beside it: with several installed, the loader in the app's
process otherwise picks whichever the file system lists first, and nothing of ours runs before that choice. So
listing it sets `OTEL_PYTHON_DISTRO` and `OTEL_PYTHON_CONFIGURATOR` to ours, where the user set neither; the value
the user set always wins, and the distro then sets the rest of our defaults (and checks the standard values) before
the SDK is imported. Importing this module changes nothing.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

from ..settings import ENTRY_POINT_NAME, SETTINGS

FLAG_VARIABLES = tuple(row.variable for row in SETTINGS if row.flag)
"""The variables `opentelemetry-instrument` offers a flag for (`OTEL_KOTAEMON_REDACT` gives `--kotaemon_redact`)."""

LAUNCHER_DEFAULTS = {"OTEL_PYTHON_DISTRO": ENTRY_POINT_NAME, "OTEL_PYTHON_CONFIGURATOR": ENTRY_POINT_NAME}


def choose_our_distro(environ: MutableMapping[str, str]) -> None:
    """Name our distro and configurator in `environ`, where the user named none."""
    for name, value in LAUNCHER_DEFAULTS.items():
        environ.setdefault(name, value)


class LauncherVariables:
    """What our `opentelemetry_environment_variables` entry point gives the launcher: it lists our variables, and
    listing them is the launcher's call to choose our distro (see the module's docstring)."""

    def __dir__(self) -> list[str]:
        choose_our_distro(os.environ)
        return list(FLAG_VARIABLES)


launcher_variables = LauncherVariables()
