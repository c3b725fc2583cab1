"""Stand-in for `libs/ktem/ktem/pages/chat/report.py` (Kotaemon v0.11.3; unchanged on its development branch): the
feedback form's handler.

Upstream, `ReportIssue(BasePage)` builds the "Feedback" accordion (correctness radio: `correct` / `incorrect`; issues:
`offensive`, `wrong-evidence`; a free-text box) and `report(...)` stores an `IssueReport` row with the conversation,
its chat history and the settings, then says thank you (`gr.Info`). Here the form is the app's and the reports are
kept in a list.
"""

from __future__ import annotations

from typing import Any, Optional


class ReportIssue:
    """The feedback form's report handler, with the reports it stored."""

    def __init__(self, app: Any = None) -> None:
        self._app = app
        self.reports: list[dict[str, Any]] = []
        """ktem's `IssueReport` table."""

    def report(
        self,
        correctness: str,
        issues: list[str],
        more_detail: str,
        conv_id: str,
        chat_history: list,
        settings: dict,
        user_id: Optional[int],
        info_panel: str,
        chat_state: dict,
        *selecteds,
    ):
        self.reports.append(
            {
                "issues": {"correctness": correctness, "issues": issues, "more_detail": more_detail},
                "chat": {
                    "conv_id": conv_id,
                    "chat_history": chat_history,
                    "info_panel": info_panel,
                    "chat_state": chat_state,
                    "selecteds": list(selecteds),
                },
                "settings": settings,
                "user": user_id,
            }
        )
