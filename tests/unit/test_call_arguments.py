"""A traced call's arguments by parameter name (`kotaemon.params.bind`), with each function's signature read once."""

from __future__ import annotations

import functools
import inspect
from typing import Any

import pytest

from opentelemetry_instrumentation_kotaemon.kotaemon import params


class Pipeline:
    def run(self, text: str, top_k: int = 3, **options: Any) -> None:
        """A component method, as theflow's `run`."""

    @functools.wraps(run)
    def decorated(self, *args: Any, **kwargs: Any) -> None:
        """A method behind a decorator that keeps the signature."""

    @staticmethod
    def plain(first: str, second: str) -> None:
        """A function without an instance."""


@pytest.mark.parametrize(
    ("method", "args", "kwargs", "expected"),
    [
        (
            Pipeline().run,
            ("question",),
            {"top_k": 5, "temperature": 0.1},
            {"text": "question", "top_k": 5, "temperature": 0.1},
        ),
        (Pipeline.run, ("self", "question"), {}, {"self": "self", "text": "question"}),
        (Pipeline().decorated, (), {"text": "question"}, {"text": "question"}),
        (Pipeline.plain, ("a",), {"second": "b"}, {"first": "a", "second": "b"}),
        (functools.partial(Pipeline.plain, "a"), ("b",), {}, {"second": "b"}),
        (max, (1, 2), {}, {}),
    ],
)
def test_arguments_by_name_on_every_call(
    method: Any, args: tuple[Any, ...], kwargs: dict[str, Any], expected: Any
) -> None:
    for _ in range(2):  # the second call reads the signature kept from the first
        assert params.bind(method, args, kwargs) == expected


def test_bound_and_plain_calls_of_one_function_keep_their_own_signatures() -> None:
    bound = Pipeline().run
    assert params.bind(Pipeline.run, ("self", "q"), {}) == {"self": "self", "text": "q"}
    assert params.bind(bound, ("q",), {}) == {"text": "q"}
    assert params.bind(Pipeline.run, ("self", "q"), {}) == {"self": "self", "text": "q"}
    assert str(params._signature(bound)) == str(inspect.signature(bound))


def test_a_signature_is_read_once_per_function(monkeypatch: pytest.MonkeyPatch) -> None:
    class Step:
        def run(self, text: str) -> None:
            """A new function, not yet seen."""

    calls = []
    read = inspect.signature
    monkeypatch.setattr(params.inspect, "signature", lambda f: calls.append(f) or read(f))
    for _ in range(3):
        assert params.bind(Step().run, ("q",), {}) == {"text": "q"}
    assert calls == [Step.run]
