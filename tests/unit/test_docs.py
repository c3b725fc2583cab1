"""The README is a front page that lists every setting; the reference pages in docs/ keep the anchors others link to."""

from __future__ import annotations

import re
from pathlib import Path

from opentelemetry_instrumentation_kotaemon.sdk import environment_variables
from opentelemetry_instrumentation_kotaemon.versions import markdown_table

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "opentelemetry_instrumentation_kotaemon"
README = REPO / "README.md"
FRONT_PAGE_BYTES = 12 * 1024


def _table_variables(text: str) -> set[str]:
    """The variables named in the first column of the Markdown tables in `text`."""
    return set(re.findall(r"^\| `(OTEL_[A-Z0-9_]+)`", text, flags=re.MULTILINE))


def test_the_readme_stays_a_front_page() -> None:
    assert README.stat().st_size <= FRONT_PAGE_BYTES, "move details to docs/"


def test_every_variable_of_ours_is_in_the_readme_settings_table_and_the_configuration_page() -> None:
    ours = set(environment_variables.__all__)
    assert ours and all(name.startswith("OTEL_KOTAEMON_") for name in ours)
    assert ours <= _table_variables(README.read_text())
    assert ours <= _table_variables((REPO / "docs" / "configuration.md").read_text())


def test_every_standard_variable_the_package_reads_is_in_the_readme() -> None:
    source = "\n".join(path.read_text() for path in PACKAGE.rglob("*.py"))
    standard = set(re.findall(r"\"(OTEL_[A-Z0-9_]+)\"", source)) - set(environment_variables.__all__)
    readme = README.read_text()
    # a family row (`OTEL_BSP_*`) covers its members
    families = re.findall(r"`(OTEL_[A-Z0-9_]*)\*", readme)
    missing = {name for name in standard if f"`{name}`" not in readme and not name.startswith(tuple(families))}
    assert not missing, missing


def test_the_readme_quotes_the_table_of_supported_versions() -> None:
    assert markdown_table() in README.read_text()


def test_the_anchors_other_pages_link_to_exist() -> None:
    anchors = {
        "tracing.md": [
            "kotaemon",
            "langchain",
            "openai-client",
            "gradio-and-the-ktem-web-app",
            "mcp",
            "what-we-change",
        ],
        "configuration.md": ["configuration", "remote-sampling"],
        "operations.md": ["collector", "jaeger"],
    }
    for page, ids in anchors.items():
        text = (REPO / "docs" / page).read_text()
        assert all(f'<a id="{anchor}"></a>' in text for anchor in ids), page


def _report_figure(report: str, title: str, config: str) -> str:
    """What `config` adds per call on the path `title` of the instruction report, as printed there (+1,215k)."""
    section = report.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    (row,) = [line for line in section.splitlines() if line.startswith(f"| {config}: ")]
    return row.split(" | ")[1].split(" (")[0]


def test_the_readme_quotes_the_current_instruction_report() -> None:
    report = (REPO / "benchmarks" / "instructions.md").read_text()
    line = " ".join(README.read_text().split("[benchmarks/instructions.md]", 1)[1].split("\n\n", 1)[0].split())
    configs = ("ours", "official", "openllmetry", "openinference")
    for title in ("OpenAI chat", "LangChain RAG chain"):
        quoted = re.findall(r"\+[\d,]+k", line.split(title, 1)[1])[: len(configs)]
        assert quoted == [_report_figure(report, title, config) for config in configs], title
