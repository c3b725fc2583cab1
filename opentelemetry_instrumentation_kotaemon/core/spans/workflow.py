"""Workflow (pipeline) spans: `invoke_workflow {name}` for a pipeline or chain, the name alone for a wrapper inside
one; the workflow duration metric (`gen_ai.invoke_workflow.duration`), for workflows only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ... import attributes as attr
from ..instruments import Instruments
from .step import Attributes, Fields, Step


@dataclass(slots=True, kw_only=True)
class WorkflowStep(Step):
    """A pipeline or chain; or, `nested`, a runnable inside one (a fallback or retry wrapper, any runnable when every
    one is traced), which has no GenAI operation."""

    KIND: ClassVar[str] = attr.KIND_PIPELINE
    INVOCATION: ClassVar[bool] = True
    START_ATTRIBUTES: ClassVar[Fields] = (("workflow_name", attr.GEN_AI_WORKFLOW_NAME),)
    END_ATTRIBUTES: ClassVar[Fields] = (("retry_attempts", attr.KOTAEMON_RETRY_ATTEMPTS),)

    nested: bool = False
    workflow_name: str | None = None
    fallback_attempts: int | None = None
    """Branches a fallback wrapper tried: 1 when the primary answered."""
    fallback_primary_error: str | None = None
    """`error.type` of the failure that made the primary give way to the fallbacks."""
    retry_attempts: int | None = None
    """Attempts a retry wrapper made."""

    @property
    def operation(self) -> str | None:
        return None if self.nested else attr.OPERATION_INVOKE_WORKFLOW

    def _record_duration(self, instruments: Instruments, duration: float, labels: Attributes) -> None:
        if not self.nested:  # a wrapper inside a chain is no workflow: its time is its workflow's
            Step._record_duration(self, instruments, duration, labels)

    def _duration_attributes(self) -> Attributes:
        return {attr.GEN_AI_WORKFLOW_NAME: self.workflow_name} if self.workflow_name else {}

    def _end_attributes(self, values: Attributes) -> None:
        if self.fallback_attempts:
            values[attr.KOTAEMON_FALLBACK_INDEX] = self.fallback_attempts - 1
            values[attr.KOTAEMON_FALLBACK_BRANCH] = "primary" if self.fallback_attempts == 1 else "fallback"
            if self.fallback_primary_error is not None:
                values[attr.KOTAEMON_FALLBACK_PRIMARY_ERROR] = self.fallback_primary_error
