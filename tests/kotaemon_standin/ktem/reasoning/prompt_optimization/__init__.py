"""Stand-in for `libs/ktem/ktem/reasoning/prompt_optimization/__init__.py` (Kotaemon v0.11.3): the helper pipelines of
the chat.
"""
