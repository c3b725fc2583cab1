"""The README is a front page that lists every setting; the reference pages in docs/ keep the anchors others link to."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from opentelemetry_instrumentation_kotaemon import settings
from opentelemetry_instrumentation_kotaemon.versions import markdown_table

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "opentelemetry_instrumentation_kotaemon"
README = REPO / "README.md"
CONFIGURATION = REPO / "docs" / "configuration.md"
FRONT_PAGE_BYTES = 12 * 1024


def test_the_readme_stays_a_front_page() -> None:
    assert README.stat().st_size <= FRONT_PAGE_BYTES, "move details to docs/"


@pytest.mark.parametrize("page", [README, CONFIGURATION], ids=lambda page: page.name)
def test_the_settings_tables_are_the_settings_table(page: Path) -> None:
    text = page.read_text()
    for table in (settings.markdown_table(page.name), settings.standard_markdown_table(page.name)):
        assert table in text, f"{page.name} must show this table, drawn from settings.py:\n{table}"
    shown = set(re.findall(r"^\| `(OTEL_[A-Z0-9_*]+)`", text, flags=re.MULTILINE))
    standard = [row for row in settings.STANDARD_SETTINGS if row.front_page or page == CONFIGURATION]
    ours = [row for row in settings.SETTINGS if row.front_page or page == CONFIGURATION]
    listed = {row.variable for row in ours} | {row.variables[0] for row in standard}
    assert shown == listed, "a settings row of its own, not from the table"


def test_every_standard_variable_the_package_reads_has_a_row() -> None:
    source = "\n".join(path.read_text() for path in PACKAGE.rglob("*.py"))
    standard = set(re.findall(r"\"(OTEL_[A-Z0-9_]+)\"", source)) - {row.variable for row in settings.SETTINGS}
    rows = [(row.variables, row.doc) for row in settings.STANDARD_SETTINGS]
    named = {name for variables, _ in rows for name in variables} | set(re.findall(r"`(OTEL_\w+)`", str(rows)))
    families = [re.compile(name.replace("*", "[A-Z_]+")) for name in named if "*" in name]
    missing = {name for name in standard if name not in named and not any(f.fullmatch(name) for f in families)}
    assert not missing, missing


def test_the_disabled_instrumentations_row_names_every_name_we_honour() -> None:
    honoured = set(re.findall(r'"(\w+)" not in disabled', (PACKAGE / "instrumentor.py").read_text()))
    assert honoured == {"threading", "logging"}
    (row,) = [row for row in settings.STANDARD_SETTINGS if "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS" in row.variables]
    assert all(f"`{name}`" in row.doc for name in {*honoured, settings.ENTRY_POINT_NAME})


_HTTP_ENDPOINT = re.compile(r"OTEL_EXPORTER_OTLP_(?:[A-Z]+_)?ENDPOINT=\S*(?::4318|/v1/(?:traces|metrics|logs))")


def test_an_http_protobuf_endpoint_is_shown_with_the_extra_it_needs() -> None:
    """A plain install exports over gRPC: an http/protobuf address (port 4318, a `/v1/...` path) works only with the
    extra `[http]`, so every paragraph that shows one says so."""
    pages = [README, *sorted((REPO / "docs").glob("*.md")), REPO / "ops" / "README.md", REPO / "examples" / "README.md"]
    for page in pages:
        for paragraph in re.split(r"\n\s*\n", page.read_text()):
            if _HTTP_ENDPOINT.search(paragraph):
                assert "[http]" in paragraph, (page.name, paragraph)


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
