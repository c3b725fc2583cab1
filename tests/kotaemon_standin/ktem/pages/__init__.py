"""Stand-in for `libs/ktem/ktem/pages/__init__.py` (Kotaemon v0.11.3): the web app's pages (empty upstream too)."""
