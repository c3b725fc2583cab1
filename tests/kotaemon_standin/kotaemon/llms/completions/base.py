"""Stand-in for `libs/kotaemon/kotaemon/llms/completions/base.py` (Kotaemon v0.11.3): `LLM`, the completions' base."""

from kotaemon.llms.base import BaseLLM


class LLM(BaseLLM):
    pass
