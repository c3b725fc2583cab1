"""Test stand-in for Kotaemon (see the README beside this package)."""
