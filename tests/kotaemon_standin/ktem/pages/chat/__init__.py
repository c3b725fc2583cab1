"""Stand-in for `libs/ktem/ktem/pages/chat/__init__.py` (Kotaemon v0.11.3; unchanged on its development branch):
the chat page's handler of likes.

Upstream, `ChatPage(BasePage)` builds the whole chat UI in its constructor and registers
`self.chat_panel.chatbot.like(fn=self.is_liked, inputs=[self.chat_control.conversation_id])`; `is_liked` appends
`[liked.index, liked.value, liked.liked]` to the conversation's `data_source["likes"]` in its SQL table. Here the
page builds no UI (the app wires the event) and the conversations live in a dict.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

import gradio as gr


class ChatPage:
    """The chat page's like handler, with the conversations' stored data sources."""

    def __init__(self, app: Any = None) -> None:
        self._app = app
        self.data_sources: dict[str, dict[str, Any]] = {}
        """Conversation id -> its `data_source` (ktem's `Conversation` table)."""

    def is_liked(self, convo_id, liked: gr.LikeData):
        data_source = deepcopy(self.data_sources.get(convo_id, {}))
        likes = data_source.get("likes", [])
        likes.append([liked.index, liked.value, liked.liked])
        data_source["likes"] = likes
        self.data_sources[convo_id] = data_source
