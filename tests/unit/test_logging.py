"""Log lines are JSON with ids, and never carry personal data or narrative."""
import io
import json
import logging

import pytest
import structlog

from services.common.logs import bind_context, clear_context, json_formatter, scrub_text

PERSONAL = ["Ada", "Jones", "12 Station Road", "HA1 2AB", "ada@example.org", "07700 900123",
            "1956-02-29", "hard of hearing", "lives among many papers"]


@pytest.fixture
def log_lines():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    root = logging.getLogger()
    root.addHandler(handler)
    clear_context()
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    clear_context()


def test_personal_keys_never_reach_a_log_line(log_lines):
    bind_context(correlation_id="corr-1", case_id="case-1")
    structlog.get_logger("test").info(
        "referral_received", given_name="Ada", family_name="Jones",
        person={"address": {"line1": "12 Station Road", "postcode": "HA1 2AB"}},
        email="ada@example.org", phone="07700 900123", date_of_birth="1956-02-29",
        access_needs="hard of hearing", reason="lives among many papers", reference="HRW-2026-000001")
    [line] = log_lines()
    assert line["correlation_id"] == "corr-1" and line["case_id"] == "case-1"
    assert line["reference"] == "HRW-2026-000001"
    text = json.dumps(line)
    for value in PERSONAL:
        assert value not in text


def test_free_text_is_scrubbed_of_contact_details(log_lines):
    structlog.get_logger("test").warning("could not reach ada@example.org on 07700 900123 at HA1 2AB")
    [line] = log_lines()
    assert line["event"] == "could not reach [email] on [phone] at [postcode]"


def test_exception_messages_are_withheld_but_type_and_stack_kept(log_lines):
    try:
        raise ValueError("cannot encode {'given_name': 'Ada', 'family_name': 'Jones'}")
    except ValueError:
        structlog.get_logger("test").exception("store_failed")
    [line] = log_lines()
    assert line["exception"]["type"] == "builtins.ValueError"
    assert any("test_logging.py" in frame for frame in line["exception"]["stack"])
    assert "Ada" not in json.dumps(line) and "Jones" not in json.dumps(line)


def test_foreign_stdlib_records_are_json_and_redacted(log_lines):
    """nameko and kombu log through the standard library; their lines get the same treatment."""
    bind_context(correlation_id="corr-2")
    try:
        raise RuntimeError("document {'name': 'Ada Jones', 'email': 'ada@example.org'}")
    except RuntimeError as exc:
        logging.getLogger("nameko.containers").error("error handling worker: %s", exc, exc_info=True)
    [line] = log_lines()
    assert line["logger"] == "nameko.containers" and line["level"] == "error"
    assert line["correlation_id"] == "corr-2"
    assert "Ada" not in json.dumps(line) and "ada@example.org" not in json.dumps(line)


@pytest.mark.parametrize("text,expected", [
    ("call 020 7946 0000", "call [phone]"),
    ("text +44 7700 900123 now", "text [phone] now"),
    ("born 1956-02-29", "born [date]"),
    ("due 2026-11-28T01:00:00+00:00", "due 2026-11-28T01:00:00+00:00"),  # timestamps are not personal
    ("case HRW-2026-000123", "case HRW-2026-000123"),
    ("sw1a 1aa", "[postcode]"),
])
def test_scrub_text_table(text, expected):
    assert scrub_text(text) == expected
