"""theflow settings for tests: its defaults, with run records written to a temporary folder, not the repo."""

import os
import tempfile

from theflow.settings.default import *  # noqa: F403

STORAGE = {
    "__type__": "theflow.storage.LocalStorage",
    "prefix": os.path.join(tempfile.gettempdir(), "kotaemon-standin-theflow"),
}
