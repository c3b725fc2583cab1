"""Stand-in for `libs/kotaemon/kotaemon/llms/chats/base.py` (Kotaemon v0.11.3): `ChatLLM`."""

from kotaemon.llms.base import BaseLLM


class ChatLLM(BaseLLM):
    def flow(self):
        if self.inflow is None:
            raise ValueError("No inflow provided.")
        return self.__call__(self.inflow.flow().text)
