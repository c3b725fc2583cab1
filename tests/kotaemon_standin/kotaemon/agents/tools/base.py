"""Stand-in for `libs/kotaemon/kotaemon/agents/tools/base.py` (Kotaemon v0.11.3): `BaseTool` (`run` calls `_run_tool`)
and `ComponentTool`.
"""

from __future__ import annotations

from typing import Any

from kotaemon.base import BaseComponent


class ToolException(Exception):
    pass


class BaseTool(BaseComponent):
    name: str
    description: str
    args_schema: Any = None
    verbose: bool = False
    handle_tool_error: Any = False

    def _parse_input(self, tool_input):
        return tool_input

    def _run_tool(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"_run_tool is not implemented for {self.name}")

    def _to_args_and_kwargs(self, tool_input):
        if isinstance(tool_input, str):
            return (tool_input,), {}
        return (), tool_input

    def _handle_tool_error(self, e: ToolException) -> Any:
        if not self.handle_tool_error:
            raise e
        return str(e)

    def to_langchain_format(self):
        raise NotImplementedError

    def run(self, tool_input, verbose=None, **kwargs: Any) -> Any:
        parsed = self._parse_input(tool_input)
        args, kwargs = self._to_args_and_kwargs(parsed)
        try:
            return self._run_tool(*args, **kwargs)
        except ToolException as e:
            return self._handle_tool_error(e)


class ComponentTool(BaseTool):
    component: BaseComponent
    postprocessor: Any = None

    def _run_tool(self, *args: Any, **kwargs: Any) -> Any:
        output = self.component(*args, **kwargs)
        return self.postprocessor(output) if self.postprocessor else output
