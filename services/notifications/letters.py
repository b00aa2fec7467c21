"""Letters to print: a letter is written to the letters folder and waits, `ready_to_print`, until a
coordinator marks it posted; then it is `sent` (DOMAIN.md: "a letter channel queues a printable letter
rather than sending").

The letter's printable text is the file it was written to (LETTER_DIR, owner only): one copy, so
erasure (which deletes the file) and retention (which forgets the receipt) cover it as before.
Posting publishes the letter's `notification_sent`, with who posted it, so the case timeline and the
retention clock hear of it when it really left.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

from services.common.logs import get_logger

log = get_logger(__name__)

READY_TO_PRINT = "ready_to_print"
SENT = "sent"
LETTER_STATUSES = (READY_TO_PRINT, SENT)


class UnknownLetter(Exception):
    """No letter by that id (404)."""

    def __init__(self, notification_id: str):
        super().__init__(f"no letter {notification_id}")


class AlreadyPosted(Exception):
    """The letter was marked posted before (409)."""

    def __init__(self, doc: dict):
        super().__init__(f"this letter was marked posted at {_iso(doc.get('posted_at'))} by {doc.get('posted_by')}")


class NotReadyToPrint(Exception):
    """The letter is not waiting to be posted: not written yet, failed, or suppressed (409)."""

    def __init__(self, doc: dict):
        reason = f" ({doc['suppressed_reason']})" if doc.get("suppressed_reason") else ""
        super().__init__(f"this letter is {doc['status']}{reason}, not ready to print: it cannot be posted")


def written(receipt: str, now: datetime) -> dict:
    """A letter just written to the folder: it waits for a coordinator to print and post it."""
    return {"status": READY_TO_PRINT, "written_at": now, "receipt": receipt, "last_error": None,
            "next_attempt_at": None}


def posting(doc: dict | None, notification_id: str, *, actor: str, now: datetime) -> tuple[dict, dict]:
    """Marking this letter posted: the changes, and what its notification_sent adds; raises UnknownLetter,
    AlreadyPosted or NotReadyToPrint."""
    if doc is None or doc.get("channel") != "letter":
        raise UnknownLetter(notification_id)
    if doc["status"] == SENT:
        raise AlreadyPosted(doc)
    if doc["status"] != READY_TO_PRINT:
        raise NotReadyToPrint(doc)
    return ({"status": SENT, "sent_at": now, "posted_at": now, "posted_by": actor},
            {"posted_by": actor, "posted_at": now.isoformat()})


def item(doc: dict, text: str | None) -> dict:
    """A line of GET /letters."""
    return {"notification_id": doc["_id"], "case_id": doc["case_id"], "template": doc["template"],
            "created_at": doc["created_at"], "status": doc["status"], "posted_at": doc.get("posted_at"),
            "posted_by": doc.get("posted_by"), "text": text}


def text_of(path: Path | None) -> str | None:
    """The letter as it was written; None when the file is gone (erased, or removed by hand)."""
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        log.warning("letter_file_unreadable", error=type(exc).__name__)
        return None


def _iso(moment) -> str:
    return moment.isoformat() if isinstance(moment, datetime) else str(moment)
