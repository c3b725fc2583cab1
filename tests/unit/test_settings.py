"""The settings table: each row's parser, default and fallback, privacy settings that fail closed, warnings that
never show a secret and reach the console, and the launcher's one change to the environment (the docs' tables drawn
from the same rows: tests/unit/test_docs.py; each setting's effect end to end: tests/e2e/test_settings.py)."""

from __future__ import annotations

import hashlib
import hmac
import importlib
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import fields
from typing import Any

import pytest

from opentelemetry_instrumentation_kotaemon import settings
from opentelemetry_instrumentation_kotaemon.core.content import ContentPolicy
from opentelemetry_instrumentation_kotaemon.core.telemetry import pseudonymise_user_id
from opentelemetry_instrumentation_kotaemon.sdk import console, environment_variables
from opentelemetry_instrumentation_kotaemon.settings import (
    REDACTION_RULES,
    SETTINGS,
    ContentMode,
    GenAiConventions,
    Settings,
    StreamUsage,
    sanitize_standard_variables,
)

LATEST, NEXT, BOTH = GenAiConventions.LATEST, GenAiConventions.NEXT, GenAiConventions.BOTH
CAPTURE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
CARD, EMAIL, KEY = "4111 1111 1111 1111", "jane.doe@example.com", "sk-live-abcdefghijklmnopqrstuvwx"
TEXT = f"card {CARD}, mail {EMAIL}, key {KEY}, ticket ACME-42"


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sees its own first warnings (they are logged once per process and value)."""
    monkeypatch.setattr(settings, "_warned", set())


def _read(env: dict[str, str], caplog: pytest.LogCaptureFixture) -> tuple[Settings, list[str]]:
    caplog.set_level(logging.WARNING)
    caplog.clear()
    read = Settings.from_env(env)
    return read, [r.getMessage() for r in caplog.records if r.name == settings.__name__]


# --- good values: read silently


@pytest.mark.parametrize(
    ("env", "field", "expected"),
    [
        ({"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "TRUE"}, "content_mode", ContentMode.SPAN),
        ({"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "1"}, "content_mode", ContentMode.SPAN),
        (
            {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "span_and_event"},
            "content_mode",
            ContentMode.SPAN_AND_EVENT,
        ),
        ({"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "false"}, "content_mode", ContentMode.NONE),
        ({"OTEL_KOTAEMON_REDACT": "none"}, "redact", ()),
        ({"OTEL_KOTAEMON_REDACT": " None "}, "redact", ()),
        ({"OTEL_KOTAEMON_REDACT": "email, phone"}, "redact", ("email", "phone")),
        ({"OTEL_KOTAEMON_REDACT": "true"}, "redact", REDACTION_RULES),
        ({"OTEL_KOTAEMON_REDACT": "All"}, "redact", REDACTION_RULES),
        ({"OTEL_KOTAEMON_REDACT": "default"}, "redact", REDACTION_RULES),
        ({"OTEL_KOTAEMON_REDACT_PATTERNS": "[]"}, "redact_patterns", ()),
        ({"OTEL_KOTAEMON_CONTENT_MAX_LENGTH": "500"}, "content_max_length", 500),
        ({"OTEL_KOTAEMON_OPENAI_STREAM_USAGE": "off"}, "openai_stream_usage", StreamUsage.NEVER),
        ({"OTEL_KOTAEMON_OPENAI_STREAM_USAGE": "True"}, "openai_stream_usage", StreamUsage.ALWAYS),
        ({"OTEL_KOTAEMON_OPENAI_STREAM_USAGE": "Always"}, "openai_stream_usage", StreamUsage.ALWAYS),
        ({"OTEL_KOTAEMON_OPENAI_STREAM_USAGE": "never"}, "openai_stream_usage", StreamUsage.NEVER),
        ({"OTEL_KOTAEMON_OPENAI_STREAM_USAGE": "auto"}, "openai_stream_usage", StreamUsage.AUTO),
        ({}, "openai_stream_usage", StreamUsage.AUTO),
        ({"OTEL_SEMCONV_STABILITY_OPT_IN": "gen_ai_latest_experimental"}, "gen_ai_conventions", LATEST),
        ({"OTEL_SEMCONV_STABILITY_OPT_IN": "http, gen_ai_next_experimental"}, "gen_ai_conventions", NEXT),
        (
            {"OTEL_SEMCONV_STABILITY_OPT_IN": "gen_ai_next_experimental,gen_ai_next_experimental/dup"},
            "gen_ai_conventions",
            BOTH,
        ),
        ({"OTEL_SEMCONV_STABILITY_OPT_IN": "database/dup,messaging"}, "gen_ai_conventions", LATEST),
        ({"OTEL_KOTAEMON_IDS_ON_EVERY_SPAN": "false"}, "ids_on_every_span", False),
        ({"OTEL_KOTAEMON_INSTRUMENT": "none"}, "instrument", ()),
        ({"OTEL_KOTAEMON_INSTRUMENT": "OpenAI,mcp"}, "instrument", ("openai", "mcp")),
        ({"OTEL_KOTAEMON_BAGGAGE_KEYS": "tenant.id, user.id"}, "baggage_keys", ("tenant.id", "user.id")),
        ({"OTEL_KOTAEMON_BAGGAGE_KEYS": "none"}, "baggage_keys", ()),
        ({"OTEL_KOTAEMON_HASH_USER_ID": "no"}, "hash_user_id", False),
        ({"OTEL_KOTAEMON_USER_ID_HASH_KEY": "k" * 32}, "user_id_hash_key", b"k" * 32),
        ({"OTEL_KOTAEMON_TRACE_ALL_STEPS": "yes"}, "trace_all_steps", True),
        ({"OTEL_KOTAEMON_LANGCHAIN_ALL_RUNNABLES": "on"}, "langchain_all_runnables", True),
        ({"OTEL_KOTAEMON_REDACT": "  "}, "redact", REDACTION_RULES),  # blank: the default
    ],
)
def test_good_values_are_read_silently(
    env: dict[str, str], field: str, expected: Any, caplog: pytest.LogCaptureFixture
) -> None:
    read, warnings = _read(env, caplog)
    assert getattr(read, field) == expected
    assert warnings == []


def test_extra_patterns_are_applied_after_the_rules(caplog: pytest.LogCaptureFixture) -> None:
    read, warnings = _read({"OTEL_KOTAEMON_REDACT_PATTERNS": '["ACME-[0-9]+"]'}, caplog)
    assert warnings == []
    assert ContentPolicy(read).clean(TEXT) == (
        "card [REDACTED:card], mail [REDACTED:email], key [REDACTED:api_key], ticket [REDACTED]"
    )


# --- bad values: one warning, the safe side


@pytest.mark.parametrize(
    ("name", "value", "field", "fallback", "said"),
    [
        ("OTEL_KOTAEMON_REDACT", "credentials,emial", "redact", REDACTION_RULES, "using all rules instead"),
        ("OTEL_KOTAEMON_REDACT", "false", "redact", REDACTION_RULES, "only `none` turns redaction off"),
        ("OTEL_KOTAEMON_REDACT", "off", "redact", REDACTION_RULES, "using all rules"),
        ("OTEL_KOTAEMON_REDACT", "none,email", "redact", REDACTION_RULES, "using all rules"),
        ("OTEL_KOTAEMON_REDACT", ",", "redact", REDACTION_RULES, "using all rules"),
        (
            "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
            "please",
            "content_mode",
            ContentMode.NONE,
            "no_content",
        ),
        ("OTEL_KOTAEMON_CONTENT_MAX_LENGTH", "lots", "content_max_length", 8192, "using 8192"),
        ("OTEL_KOTAEMON_CONTENT_MAX_LENGTH", "-5", "content_max_length", 16, "using 16, the shortest cap"),
        ("OTEL_KOTAEMON_CONTENT_MAX_LENGTH", "0", "content_max_length", 16, "never the longer default"),
        ("OTEL_KOTAEMON_OPENAI_STREAM_USAGE", "maybe", "openai_stream_usage", StreamUsage.AUTO, "using auto"),
        ("OTEL_SEMCONV_STABILITY_OPT_IN", "http,gen_ai_next", "gen_ai_conventions", LATEST, "using gen_ai_latest"),
        ("OTEL_KOTAEMON_HASH_USER_ID", "maybe", "hash_user_id", True, "only `false` exports the user id"),
        ("OTEL_KOTAEMON_INSTRUMENT", "openai,cohere", "instrument", ("openai",), "using openai"),
        ("OTEL_KOTAEMON_BAGGAGE_KEYS", "user.id, bad key,=x", "baggage_keys", ("user.id",), "using user.id"),
        ("OTEL_KOTAEMON_BAGGAGE_KEYS", ",", "baggage_keys", (), "using none"),
        ("OTEL_KOTAEMON_TRACE_ALL_STEPS", "sometimes", "trace_all_steps", False, "using false"),
    ],
)
def test_bad_values_warn_once_and_get_the_safe_side(
    name: str, value: str, field: str, fallback: Any, said: str, caplog: pytest.LogCaptureFixture
) -> None:
    read, warnings = _read({name: value}, caplog)
    assert getattr(read, field) == fallback
    assert getattr(Settings.from_env({name: value}), field) == fallback
    assert len(warnings) == 1, warnings
    assert f"{name}={value!r} is not valid" in warnings[0] and said in warnings[0]


def test_a_typo_in_one_rule_keeps_every_rule(caplog: pytest.LogCaptureFixture) -> None:
    for value in ("credentials,emial", "true", "all", "false"):
        assert ContentPolicy(Settings.from_env({"OTEL_KOTAEMON_REDACT": value})).clean(TEXT) == (
            "card [REDACTED:card], mail [REDACTED:email], key [REDACTED:api_key], ticket ACME-42"
        ), value
    assert ContentPolicy(Settings.from_env({"OTEL_KOTAEMON_REDACT": "none"})).clean(TEXT) == TEXT


@pytest.mark.parametrize(
    "value",
    [
        "TICKET-[0-9]+",  # not JSON
        '{"pattern": "TICKET"}',  # not a list
        '["TICKET-[0-9]+", 42]',  # not strings
        '["TOPSECRET-7731", "TICKET-(("]',  # one entry that does not compile
    ],
)
def test_unreadable_extra_patterns_withhold_every_cleaned_text(value: str, caplog: pytest.LogCaptureFixture) -> None:
    read, warnings = _read({"OTEL_KOTAEMON_REDACT_PATTERNS": value}, caplog)
    assert ContentPolicy(read).clean(TEXT) == "[REDACTED]"
    assert ContentPolicy(read).clean("") == ""
    (warning,) = warnings
    assert warning.startswith("OTEL_KOTAEMON_REDACT_PATTERNS is not valid (expected a JSON list")
    assert "every text redaction cleans is exported as `[REDACTED]`" in warning
    assert "TICKET" not in warning and "TOPSECRET" not in warning  # a pattern may be the very secret


def test_the_broken_entry_is_located_without_being_shown(caplog: pytest.LogCaptureFixture) -> None:
    _, (warning,) = _read({"OTEL_KOTAEMON_REDACT_PATTERNS": '["ok-[0-9]+", "bad(("]'}, caplog)
    assert "entry 2: missing ), unterminated subpattern at position 4" in warning
    assert "bad" not in warning


@pytest.mark.parametrize(
    ("value", "kept"),
    [("login*,*", ("login*",)), ("**", ()), ("?*,*payment*", ("*payment*",)), ("??,none", ("??", "none"))],
)
def test_always_sample_drops_a_pattern_that_keeps_every_trace(
    value: str, kept: tuple[str, ...], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    assert settings.ALWAYS_SAMPLE.read({"OTEL_KOTAEMON_ALWAYS_SAMPLE": value}) == kept
    assert len(caplog.records) == (0 if value.startswith("??") else 1)
    assert settings.ALWAYS_SAMPLE.read({"OTEL_KOTAEMON_ALWAYS_SAMPLE": "none"}) == ()


# --- user.id: pseudonymised, keyed on request


def test_a_hash_key_makes_user_ids_keyed_and_is_never_shown(caplog: pytest.LogCaptureFixture) -> None:
    key = "0123456789abcdef0123456789abcdef"
    read, warnings = _read({"OTEL_KOTAEMON_USER_ID_HASH_KEY": key}, caplog)
    assert warnings == []
    keyed = "hmac-sha256:" + hmac.new(key.encode(), b"alice@example.com", hashlib.sha256).hexdigest()[:16]
    assert pseudonymise_user_id("alice@example.com", read.user_id_hash_key) == keyed
    plain = "sha256:" + hashlib.sha256(b"alice@example.com").hexdigest()[:16]
    assert pseudonymise_user_id("alice@example.com", None) == plain  # what a dictionary of addresses recovers


def test_a_short_hash_key_still_hashes_keyed_with_a_warning_that_hides_it(caplog: pytest.LogCaptureFixture) -> None:
    read, (warning,) = _read({"OTEL_KOTAEMON_USER_ID_HASH_KEY": "hunter2"}, caplog)
    assert read.user_id_hash_key == b"hunter2"
    assert pseudonymise_user_id("alice", read.user_id_hash_key).startswith("hmac-sha256:")
    assert warning.startswith(
        "OTEL_KOTAEMON_USER_ID_HASH_KEY is not valid (expected a key of at least 32 bytes, not 7)"
    )
    assert "hunter2" not in warning and "using this short key instead" in warning


# --- secrets in our own warnings


def test_malformed_headers_name_the_kept_keys_and_never_a_value(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    # a bearer token with a comma in it splits into a well-formed pair and a piece that is not one
    environ = {"OTEL_EXPORTER_OTLP_TRACES_HEADERS": "x-tenant=acme,authorization=Bearer tok-1x,tok-2y,=z"}
    sanitize_standard_variables(environ)
    assert environ["OTEL_EXPORTER_OTLP_TRACES_HEADERS"] == "x-tenant=acme,authorization=Bearer tok-1x"
    (warning,) = [r.getMessage() for r in caplog.records]
    assert warning == (
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS is not valid (expected a comma list of key=value pairs; entries 3, 4 of 4 "
        "are not; values are not shown); using the well-formed headers only (keys: x-tenant, authorization) instead"
    )


def test_no_warning_shows_the_value_of_a_sensitive_setting(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    secret = "s3cr3t-VALUE"
    sensitive = [row for row in SETTINGS if row.sensitive]
    assert {row.variable for row in sensitive} == {"OTEL_KOTAEMON_REDACT_PATTERNS", "OTEL_KOTAEMON_USER_ID_HASH_KEY"}
    for row in sensitive:
        row.read({row.variable: f'["{secret}", "(("]'})
    assert len(caplog.records) == len(sensitive)
    assert all(secret not in r.getMessage() for r in caplog.records)


def test_credentials_in_an_echoed_url_are_hidden(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    settings.warn_invalid("OTEL_TRACES_SAMPLER_ARG", "endpoint=ftp://jaeger:pa55@jaeger:5778", "x", "a URL")
    (warning,) = [r.getMessage() for r in caplog.records]
    assert "pa55" not in warning and "ftp://[REDACTED]@jaeger:5778" in warning


# --- one table


def test_every_settings_field_has_its_row_and_defaults_agree() -> None:
    rows = {row.field: row for row in SETTINGS if row.field}
    assert set(rows) == {f.name for f in fields(Settings)}
    assert Settings.from_env({}) == Settings()
    assert all(getattr(Settings(), name) == row.default for name, row in rows.items())
    assert len({row.variable for row in SETTINGS}) == len(SETTINGS)


def test_the_launcher_offers_a_flag_for_our_variables_but_not_for_a_key_or_a_standard_one() -> None:
    flags = set(environment_variables.FLAG_VARIABLES)
    assert flags == {row.variable for row in SETTINGS} - {
        "OTEL_KOTAEMON_USER_ID_HASH_KEY",
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
        "OTEL_SEMCONV_STABILITY_OPT_IN",
    }
    assert all(name.startswith("OTEL_KOTAEMON_") for name in flags)


# --- the process environment


@pytest.fixture
def environment_kept() -> Iterator[None]:
    before = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(before)


def test_importing_the_variables_module_changes_no_environment(
    environment_kept: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("OTEL_PYTHON_DISTRO", "OTEL_PYTHON_CONFIGURATOR", "OTEL_EXPORTER_OTLP_PROTOCOL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json")
    before = dict(os.environ)
    importlib.reload(environment_variables)
    assert dict(os.environ) == before


def test_the_launcher_listing_our_variables_chooses_our_distro_where_none_is_chosen(
    environment_kept: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OTEL_PYTHON_DISTRO", raising=False)
    monkeypatch.setenv("OTEL_PYTHON_CONFIGURATOR", "mine")
    names = dir(environment_variables.launcher_variables)  # what `opentelemetry-instrument` does
    assert names == sorted(environment_variables.FLAG_VARIABLES)
    assert os.environ["OTEL_PYTHON_DISTRO"] == "kotaemon"
    assert os.environ["OTEL_PYTHON_CONFIGURATOR"] == "mine"


# --- our warnings on the console


@pytest.fixture
def app_logging() -> Iterator[tuple[logging.Logger, logging.Logger]]:
    """A logger tree of its own: `console-test` stands for the root logger (nothing above it), `console-test.ours`
    for our package's logger with the console fallback."""
    top, ours = logging.getLogger("console-test"), logging.getLogger("console-test.ours")
    top.propagate = False
    fallback = console.ConsoleFallback()
    ours.addHandler(fallback)
    yield top, ours
    ours.removeHandler(fallback)
    top.propagate = True


def _app_handlers(top: logging.Logger, *handlers: logging.Handler) -> None:
    """The handlers of `top`, and only those: pytest puts its capturing handler on every logger that does not
    propagate, which would stand for an app's console here."""
    top.handlers = list(handlers)


def _exporting_handler() -> logging.Handler:
    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler

    return LoggingHandler(logger_provider=LoggerProvider())


@pytest.mark.filterwarnings("ignore:`LoggingHandler` in `opentelemetry-sdk` is deprecated")
def test_warnings_reach_stderr_when_only_an_exporting_handler_would_take_them(
    app_logging: tuple[logging.Logger, logging.Logger], capsys: pytest.CaptureFixture[str]
) -> None:
    top, ours = app_logging
    _app_handlers(top)
    ours.warning("first")  # no handler at all: what Python's last resort would print
    _app_handlers(top, _exporting_handler())  # app-log export on, before the app configures logging
    ours.warning("second")
    ours.info("not a warning")
    assert capsys.readouterr().err == "first\nsecond\n"


@pytest.mark.filterwarnings("ignore:`LoggingHandler` in `opentelemetry-sdk` is deprecated")
def test_once_the_app_shows_logs_the_fallback_prints_nothing_twice(
    app_logging: tuple[logging.Logger, logging.Logger], capsys: pytest.CaptureFixture[str]
) -> None:
    top, ours = app_logging
    app_console = logging.StreamHandler()  # what logging.basicConfig adds; it writes to stderr
    app_console.setFormatter(logging.Formatter("APP %(message)s"))
    _app_handlers(top, _exporting_handler(), app_console)
    ours.warning("bad setting")
    assert capsys.readouterr().err == "APP bad setting\n"
    app_console.setLevel(logging.ERROR)  # the app shows errors only: ours is the one console for warnings
    ours.warning("again")
    assert capsys.readouterr().err == "again\n"


def test_the_fallback_is_installed_once_on_our_package_logger() -> None:
    package = logging.getLogger(console.PACKAGE_LOGGER)
    before = list(package.handlers)
    try:
        console.install()
        console.install()
        added = [h for h in package.handlers if h not in before]
        assert len([h for h in package.handlers if isinstance(h, console.ConsoleFallback)]) == 1
        assert all(isinstance(h, console.ConsoleFallback) for h in added)
    finally:
        package.handlers[:] = before


def test_no_row_documents_itself_with_a_pipe() -> None:
    cells = [(row.doc, row.default_doc, row.fallback_doc, row.safe_side, row.example) for row in SETTINGS]
    assert not [cell for row in cells for cell in row if re.search(r"(?<!\\)\|", cell)]


def test_the_asgi_message_spans_setting_reads_booleans_and_falls_back_to_leaving_them_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    assert settings.ASGI_MESSAGE_SPANS.read({}) is False
    assert settings.ASGI_MESSAGE_SPANS.read({"OTEL_KOTAEMON_ASGI_MESSAGE_SPANS": "TRUE"}) is True
    assert not [r for r in caplog.records if r.name == settings.__name__]
    assert settings.ASGI_MESSAGE_SPANS.read({"OTEL_KOTAEMON_ASGI_MESSAGE_SPANS": "sometimes"}) is False
    (warning,) = [r.getMessage() for r in caplog.records if r.name == settings.__name__]
    assert "OTEL_KOTAEMON_ASGI_MESSAGE_SPANS='sometimes' is not valid" in warning and "using false" in warning
