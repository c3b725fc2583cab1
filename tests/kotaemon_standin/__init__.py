"""The test stand-in for Kotaemon: `use()` makes `import kotaemon` find it (it is never installed or shipped)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

PATH = Path(__file__).resolve().parent
SETTINGS_MODULE = "theflow_settings"


def environment() -> dict[str, str]:
    """Variables for a subprocess that imports the stand-in (and keeps theflow's run records out of the repo)."""
    python_path = os.pathsep.join(p for p in (str(PATH), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": python_path, "THEFLOW_SETTINGS_MODULE": SETTINGS_MODULE}


def use() -> None:
    """Put the stand-in on `sys.path` and point theflow at the test settings (before theflow is imported)."""
    os.environ.setdefault("THEFLOW_SETTINGS_MODULE", SETTINGS_MODULE)
    if str(PATH) not in sys.path:
        sys.path.insert(0, str(PATH))
