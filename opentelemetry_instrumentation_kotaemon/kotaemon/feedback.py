"""What ktem's users say about answers, as evaluations: a like or dislike (`ChatPage.is_liked`, a Gradio like event)
and a report (`ReportIssue.report`, the feedback form).

Both name the answer by its conversation and its place in the chat, which is how the answer was remembered when it
was given (`steps.identify`). A like's Gradio `LikeData.index` is `[row, column]` in the chat of question and answer
pairs (Gradio 4, ktem's) or the position of the message in a chat of messages (Gradio 5 and later), where a user
message and an answer make one exchange. A report judges the last answer of the chat it sends.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from .. import attributes as attr
from ..core.evaluations import Evaluation
from ..core.telemetry import Telemetry
from ..core.values import nonempty_text, whole_number
from ..patching import Patcher, Target
from .ktem_hooks import LIKE, REPORT

logger = logging.getLogger(__name__)

_CORRECTNESS_SCORES = {attr.LABEL_CORRECT: 1.0, attr.LABEL_INCORRECT: 0.0}


def instrument(patcher: Patcher, telemetry: Telemetry) -> None:
    """Wrap ktem's like and report handlers when their modules are imported."""
    patcher.patch(
        [
            Target(LIKE.module, LIKE.path, _judging(telemetry, like_evaluation)),
            Target(REPORT.module, REPORT.path, _judging(telemetry, report_evaluation)),
        ]
    )


def _judging(telemetry: Telemetry, read: Callable[[tuple[Any, ...], dict[str, Any]], Evaluation | None]) -> Any:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if telemetry.enabled:
            try:
                evaluation = read(args, kwargs)
                if evaluation is not None:
                    telemetry.record_evaluation(evaluation)
            except Exception:
                logger.debug("failed to record an evaluation", exc_info=True)
        return wrapped(*args, **kwargs)

    return wrapper


def _argument(args: tuple[Any, ...], kwargs: dict[str, Any], position: int, *names: str) -> Any:
    """An argument by any of its names, else by its position."""
    for name in names:
        if name in kwargs:
            return kwargs[name]
    return args[position] if len(args) > position else None


def _conversation(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return nonempty_text(value)


def exchange_of_message(index: Any) -> int | None:
    """The exchange (question and answer) a chat message index points into."""
    if isinstance(index, (list, tuple)) and index:
        return whole_number(index[0])  # [row, column] of a chat of pairs
    position = whole_number(index)
    return None if position is None else position // 2  # a chat of messages, a question and an answer each


def exchange_of_last_answer(history: Any) -> int | None:
    """The exchange of the last answer in a chat: of pairs, the last pair; of messages, the last assistant's."""
    if not isinstance(history, list) or not history:
        return None
    if isinstance(history[-1], (list, tuple)):
        return len(history) - 1
    for position in range(len(history) - 1, -1, -1):
        message = history[position]
        if isinstance(message, dict) and message.get("role") == "assistant":
            return position // 2
    return None


def like_evaluation(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Evaluation | None:
    """`ChatPage.is_liked(convo_id, liked: gr.LikeData)`: liked (1) or disliked (0); another feedback option of
    newer Gradio (a string) is its label, with no score."""
    conversation = _conversation(_argument(args, kwargs, 0, "convo_id", "conv_id", "conversation_id"))
    data = _argument(args, kwargs, 1, "liked", "like_data")
    index = exchange_of_message(getattr(data, "index", None))
    value = getattr(data, "liked", None)
    if conversation is None or index is None:
        return None
    label: str | None
    score: float | None = None
    if value is True or value is False:
        label, score = (attr.LABEL_LIKED, 1.0) if value else (attr.LABEL_DISLIKED, 0.0)
    else:
        label = nonempty_text(value)
        if label is None:
            return None
    return Evaluation(
        name=attr.EVALUATION_USER_FEEDBACK, conversation_id=conversation, answer_index=index, label=label, score=score
    )


def report_evaluation(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Evaluation | None:
    """`ReportIssue.report(correctness, issues, more_detail, conv_id, chat_history, ...)`: correct (1) or incorrect
    (0) when chosen, the issues ticked, and the user's text (content)."""
    conversation = _conversation(_argument(args, kwargs, 3, "conv_id", "convo_id", "conversation_id"))
    index = exchange_of_last_answer(_argument(args, kwargs, 4, "chat_history", "history"))
    if conversation is None or index is None:
        return None
    correctness = nonempty_text(_argument(args, kwargs, 0, "correctness"))
    issues = _argument(args, kwargs, 1, "issues")
    return Evaluation(
        name=attr.EVALUATION_USER_REPORT,
        conversation_id=conversation,
        answer_index=index,
        label=correctness,
        score=_CORRECTNESS_SCORES.get(correctness or ""),
        issues=[issue for issue in issues if isinstance(issue, str)] if isinstance(issues, list) else None,
        explanation=nonempty_text(_argument(args, kwargs, 2, "more_detail")),
    )
