"""Stand-in for `libs/ktem/ktem/reasoning/__init__.py` (Kotaemon v0.11.3): the reasoning pipelines."""
