"""Stand-in for `libs/kotaemon/kotaemon/__init__.py` (Kotaemon v0.11.3): the test stand-in for Kotaemon (see the
README beside this package)."""
