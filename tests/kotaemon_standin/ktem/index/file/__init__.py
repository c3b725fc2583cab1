"""Stand-in for `libs/ktem/ktem/index/file/__init__.py` (Kotaemon v0.11.3): the file index."""
