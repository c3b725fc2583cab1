from .base import BaseTool, ComponentTool, ToolException

__all__ = ["BaseTool", "ComponentTool", "ToolException"]
