"""A test stand-in for Kotaemon's web app package `ktem`: the pipelines the app runs, without the app."""
