"""Stand-in for `libs/kotaemon/kotaemon/agents/rewoo/__init__.py` (Kotaemon v0.11.3): the ReWOO agent's package."""
