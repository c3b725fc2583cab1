"""Stand-in for `libs/kotaemon/kotaemon/agents/react/__init__.py` (Kotaemon v0.11.3): the ReAct agent's package."""
