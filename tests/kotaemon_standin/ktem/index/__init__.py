"""Stand-in for `libs/ktem/ktem/index/__init__.py` (Kotaemon v0.11.3): the web app's indexes."""
