"""App event spans: `{framework} {name}`, one UI event a web app's server processed (a Gradio queue event), and
`{framework} {name} batch`, one call of a batched event function for several events."""

from __future__ import annotations

from dataclasses import dataclass

from ... import attributes as attr
from .step import Attributes


@dataclass(slots=True, kw_only=True)
class AppEvent:
    """One event of a web app's UI processed by the server: what the user did (ask, upload, rename...)."""

    name: str
    """The event's API name, else its function's name."""
    framework: str
    function: str | None = None
    session_id: str | None = None
    event_id: str | None = None
    batch_size: int | None = None
    """For one call of a batched function: how many events it processed (each has a span of its own)."""

    def span_name(self) -> str:
        if self.batch_size is not None:
            return f"{self.framework} {self.name} batch"
        return f"{self.framework} {self.name}"

    def start_attributes(self) -> Attributes:
        values: Attributes = {
            attr.KOTAEMON_SPAN_KIND: attr.KIND_APP_EVENT,
            attr.KOTAEMON_APP_FRAMEWORK: self.framework,
            attr.KOTAEMON_APP_EVENT_NAME: self.name,
        }
        if self.function:
            values[attr.KOTAEMON_APP_EVENT_FUNCTION] = self.function
        if self.event_id:
            values[attr.KOTAEMON_APP_EVENT_ID] = self.event_id
        if self.session_id:
            values[attr.SESSION_ID] = self.session_id
        if self.batch_size is not None:
            values[attr.KOTAEMON_APP_EVENT_BATCH_SIZE] = self.batch_size
        return values
