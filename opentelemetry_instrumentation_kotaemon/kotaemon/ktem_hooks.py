"""The places in Kotaemon's web app (ktem) this package hooks, in one table.

The instrumentation wraps or recognises them; `opentelemetry-kotaemon doctor` lists which of them the installed ktem
has, by reading its source files (importing ktem would start its app: database, settings, model downloads).
"""

from __future__ import annotations

import ast
import importlib.util
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class HookPoint:
    """A class, or a method of one, in a ktem module."""

    module: str
    path: str
    """``Class`` or ``Class.method``."""
    use: str
    """What we make of it."""

    @property
    def name(self) -> str:
        return f"{self.module}.{self.path}"


REASONING = HookPoint(
    "ktem.reasoning.base",
    "BaseReasoning",
    "question-answering pipelines: the conversation (`conv_id`) and the answer's place (`history`)",
)
FILE_RETRIEVER = HookPoint(
    "ktem.index.file.base", "BaseFileIndexRetriever", "file index retrievals, with their index id and selected files"
)
FILE_INDEXING = HookPoint("ktem.index.file.base", "BaseFileIndexIndexing", "file indexing")
FILE_CHUNKS = HookPoint("ktem.index.file.pipelines", "IndexPipeline.handle_docs", "chunks stored per file")
LIKE = HookPoint("ktem.pages.chat", "ChatPage.is_liked", "likes and dislikes of answers, as evaluation events")
REPORT = HookPoint("ktem.pages.chat.report", "ReportIssue.report", "reports on answers, as evaluation events")

HOOK_POINTS = (
    REASONING,
    FILE_RETRIEVER,
    FILE_INDEXING,
    FILE_CHUNKS,
    HookPoint("ktem.reasoning.prompt_optimization.mindmap", "CreateMindmapPipeline", "the mind map of an answer"),
    HookPoint(
        "ktem.reasoning.prompt_optimization.suggest_conversation_name",
        "SuggestConvNamePipeline",
        "naming a conversation",
    ),
    HookPoint(
        "ktem.reasoning.prompt_optimization.suggest_followup_chat",
        "SuggestFollowupQuesPipeline",
        "follow-up suggestions",
    ),
    LIKE,
    REPORT,
)


def ktem_folders() -> list[Path] | None:
    """Where the installed `ktem` package lives (without importing it), or None when it is not installed."""
    try:
        spec = importlib.util.find_spec("ktem")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return [Path(folder) for folder in spec.submodule_search_locations]


def is_defined(hook: HookPoint, folders: list[Path]) -> bool:
    """Whether the module's source defines the class (and the method) at its top level."""
    parts = hook.module.split(".")[1:]
    for folder in folders:
        base = folder.joinpath(*parts)
        for source in (base / "__init__.py", base.with_suffix(".py")):
            if source.is_file():
                return _defines(source, hook.path)
    return False


def _defines(source: Path, path: str) -> bool:
    class_name, _, method = path.partition(".")
    try:
        tree = ast.parse(source.read_text(encoding="utf-8", errors="replace"))
    except (OSError, SyntaxError, ValueError):
        return False
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            if not method:
                return True
            functions = (ast.FunctionDef, ast.AsyncFunctionDef)
            return any(isinstance(item, functions) and item.name == method for item in node.body)
    return False


def installed_hook_points() -> list[tuple[HookPoint, bool]] | None:
    """Each hook point and whether the installed ktem has it; None when ktem is not installed."""
    folders = ktem_folders()
    if folders is None:
        return None
    return [(hook, is_defined(hook, folders)) for hook in HOOK_POINTS]
