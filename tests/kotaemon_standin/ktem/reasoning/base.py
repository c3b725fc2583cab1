"""Stand-in for `libs/ktem/ktem/reasoning/base.py` (Kotaemon v0.11.3): `BaseReasoning`, the base of the
question-answering pipelines.
"""

from __future__ import annotations

from typing import Optional

from kotaemon.base import BaseComponent


class BaseReasoning(BaseComponent):
    """The base of ktem's reasoning pipelines: the app builds one per question and streams it."""

    retrievers: list = []

    @classmethod
    def get_info(cls) -> dict:
        raise NotImplementedError

    @classmethod
    def get_user_settings(cls) -> dict:
        return {}

    @classmethod
    def get_pipeline(cls, user_settings: dict, state: dict, retrievers: Optional[list] = None, **kwargs):
        raise NotImplementedError

    def run(self, message: str, conv_id: str, history: list, **kwargs):
        raise NotImplementedError
