"""Stand-in for `libs/ktem/ktem/__init__.py` (Kotaemon v0.11.3): Kotaemon's web app package `ktem`, for the pipelines
the app runs and the handlers we hook (likes, reports), without the app."""
