"""Structured JSON logging for our code and for nameko/kombu's stdlib loggers.

Every line carries `correlation_id` and `case_id` when known, and passes a
redaction step so personal data never reaches a log line.
"""
from __future__ import annotations

import logging
import re
import sys
import traceback

import structlog

# Keys whose values are personal data or narrative: never logged.
PERSONAL_KEYS = frozenset({
    "name", "given_name", "family_name", "full_name", "person", "referrer",
    "address", "line1", "line2", "town", "postcode", "phone", "mobile", "email",
    "date_of_birth", "dob", "reason", "narrative", "notes", "access_needs",
    "body", "text", "html", "subject", "to", "recipient", "contacts",
})
REDACTED = "[redacted]"

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_PHONE = re.compile(r"(?:\+44\s?|\b0)\d(?:[\s-]?\d){8,9}\b")
_POSTCODE = re.compile(r"\b(GIR ?0AA|[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2})\b", re.IGNORECASE)
_DATE = re.compile(r"\b(19|20)\d\d-\d\d-\d\d\b(?!T)")


def scrub_text(value: str) -> str:
    """Mask emails, UK phone numbers, postcodes and bare dates inside free text."""
    value = _EMAIL.sub("[email]", value)
    value = _PHONE.sub("[phone]", value)
    value = _POSTCODE.sub("[postcode]", value)
    return _DATE.sub("[date]", value)


def _redact(value, depth=0):
    if depth > 6:
        return REDACTED
    if isinstance(value, dict):
        return {k: (REDACTED if str(k).lower() in PERSONAL_KEYS else _redact(v, depth + 1))
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact(v, depth + 1) for v in value]
    if isinstance(value, str):
        return scrub_text(value)
    return value


def _exception_of(event_dict):
    exc_info = event_dict.get("exc_info")
    if exc_info is True:
        exc_info = sys.exc_info()
    if isinstance(exc_info, BaseException):
        return exc_info
    if isinstance(exc_info, tuple) and len(exc_info) == 3:
        return exc_info[1]
    return None


def format_exception_safely(logger, method_name, event_dict):
    """Render exceptions as type and stack only.

    Exception messages can carry whole documents (pymongo does), so the
    message never reaches the log, neither in `exception` nor in `event`.
    """
    exc = _exception_of(event_dict)
    event_dict.pop("exc_info", None)
    if exc is None:
        return event_dict
    message = str(exc)
    if message and isinstance(event_dict.get("event"), str):
        event_dict["event"] = event_dict["event"].replace(message, "[exception message withheld]")
    frames = traceback.extract_tb(exc.__traceback__)
    event_dict["exception"] = {
        "type": f"{type(exc).__module__}.{type(exc).__qualname__}",
        "stack": [f"{f.filename}:{f.lineno} in {f.name}" for f in frames[-12:]],
    }
    return event_dict


def redact_personal_data(logger, method_name, event_dict):
    """structlog processor: drop personal keys and scrub free text."""
    for key in list(event_dict):
        if key.lower() in PERSONAL_KEYS:
            event_dict[key] = REDACTED
        elif key not in ("timestamp", "level", "logger"):
            event_dict[key] = _redact(event_dict[key])
    return event_dict


_SHARED = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


class _JsonFormatter(structlog.stdlib.ProcessorFormatter):
    def format(self, record):
        # ProcessorFormatter rewrites msg/args and clears exc_info on the shared
        # record; restore them so every other handler sees the original.
        saved = record.msg, record.args, record.exc_info, record.exc_text
        try:
            return super().format(record)
        finally:
            record.msg, record.args, record.exc_info, record.exc_text = saved


def json_formatter() -> logging.Formatter:
    """A stdlib formatter that renders foreign (nameko, kombu) records like ours."""
    return _JsonFormatter(
        foreign_pre_chain=_SHARED,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            format_exception_safely,
            redact_personal_data,
            structlog.processors.JSONRenderer(sort_keys=True),
        ],
    )


_configured = False


def configure_logging(level: str | int = "INFO", stream=None) -> None:
    """Idempotent: services, the CLI and tests all call it."""
    global _configured
    if _configured:
        return
    _configured = True
    structlog.configure(
        processors=_SHARED + [
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(json_formatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("kombu", "amqp", "pymongo", "urllib3", "werkzeug"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get_logger(name: str):
    return structlog.get_logger(name)


def bind_context(**values) -> None:
    """Bind ids (correlation_id, case_id, ...) to every log line of this greenthread."""
    structlog.contextvars.bind_contextvars(**{k: v for k, v in values.items() if v is not None})


def clear_context() -> None:
    structlog.contextvars.clear_contextvars()
