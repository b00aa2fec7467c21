"""Subject access: everything every service holds about one person, as one file (JSON inside HTML).

The referrals service asks safety and notifications over the broker (gather.py); a service that does
not answer in time is named in `incomplete`, and the file says so at the top.
"""
from __future__ import annotations

import html
import json

from services.common.envelope import utcnow
from services.common.gather import jsonable

PEERS = ("safety", "notifications")
_INTERNAL = ("outbox", "applied_events", "outbox_pending", "outbox_waiting", "outbox_lease_until",
             "outbox_lease_owner", "open_person_slot", "list_stale", "rev", "version", "person_key")


def case_holdings(case: dict) -> dict:
    """The case as the referrals service holds it: person, referrals, ratings, consent, visit, timeline."""
    return jsonable({k: v for k, v in case.items() if k not in _INTERNAL})


def assemble(reference: str, case: dict, requested_by: str, own_audit: list[dict],
             answers: dict, missing: dict) -> dict:
    """The subject access document (pure): every service's holdings and every audit entry of the case."""
    services = {"referrals": case_holdings(case)}
    audit = list(own_audit)
    for peer in PEERS:
        if peer in answers:
            services[peer] = answers[peer]["holdings"]
            audit.extend(answers[peer]["audit"])
        else:
            services[peer] = None
    incomplete = [missing.get(peer, f"{peer} did not answer") for peer in PEERS if peer not in answers]
    return jsonable({
        "subject_access_request": {"reference": reference, "case_id": case["_id"],
                                   "generated_at": utcnow(), "requested_by": requested_by},
        "complete": not incomplete,
        "incomplete": incomplete,
        "services": services,
        "audit": sorted(jsonable(audit), key=lambda e: (e.get("at") or "", e.get("service") or "")),
    })


def _rows(items: list[dict], columns: list[str]) -> str:
    head = "".join(f"<th scope=col>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_text(item.get(c)))}</td>" for c in columns) + "</tr>"
                   for item in items)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _text(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, indent=1)
    return str(value)


def _section(title: str, value) -> str:
    return (f"<section><h2>{html.escape(title)}</h2>"
            f"<pre>{html.escape(json.dumps(value, ensure_ascii=False, indent=2))}</pre></section>")


def render_html(document: dict) -> str:
    """A readable page with the whole JSON document embedded (`<script id=sar-data>`): one file, both forms."""
    request = document["subject_access_request"]
    parts = [f"<h1>Subject access: {html.escape(request['reference'])}</h1>",
             f"<p>Generated {html.escape(request['generated_at'])} for {html.escape(request['requested_by'])}.</p>"]
    if document["incomplete"]:
        parts.append("<p class=incomplete><strong>Incomplete:</strong> "
                     + "; ".join(html.escape(m) for m in document["incomplete"]) + "</p>")
    services = document["services"]
    case = services.get("referrals") or {}
    for title, key in (("Person", "person"), ("Referrals", "referrals"), ("Ratings", "cir_ratings"),
                       ("Consent and its history", "consent"), ("Visit (as the case shows it)", "visit"),
                       ("Case timeline", "timeline")):
        if case.get(key) is not None:
            parts.append(_section(title, case[key]))
    parts.append(_section("Everything else the referrals service holds",
                          {k: v for k, v in case.items()
                           if k not in ("person", "referrals", "cir_ratings", "consent", "visit", "timeline")}))
    if services.get("safety") is not None:
        parts.append(_section("Safety: fire risk assessments and visits", services["safety"]))
    else:
        parts.append("<section><h2>Safety</h2><p class=incomplete>Not included: the safety service did not "
                     "answer.</p></section>")
    notifications = services.get("notifications")
    if notifications is not None:
        messages = []
        for message in notifications.get("messages", []):
            rendered = message.get("rendered") or {}
            messages.append(
                f"<article><h3>{html.escape(_text(message.get('template')))} to "
                f"{html.escape(_text(message.get('audience')))} by {html.escape(_text(message.get('channel')))}"
                f" ({html.escape(_text(message.get('status')))}, {html.escape(_text(message.get('sent_at')))})</h3>"
                f"<p><strong>{html.escape(_text(rendered.get('subject')))}</strong></p>"
                f"<pre>{html.escape(rendered.get('text') or '(text no longer held)')}</pre></article>")
        parts.append("<section><h2>Messages</h2>" + "".join(messages) + "</section>")
        parts.append(_section("Contact details the notifications service holds", notifications.get("contacts")))
        if notifications.get("sessions") is not None:
            parts.append(_section("Group sessions: invitations, answers and attendance", notifications["sessions"]))
    else:
        parts.append("<section><h2>Messages</h2><p class=incomplete>Not included: the notifications service "
                     "did not answer.</p></section>")
    parts.append("<section><h2>Who has seen or changed this record</h2>"
                 + _rows(document["audit"], ["at", "service", "actor", "role", "agency", "action", "correlation_id"])
                 + "</section>")
    data = json.dumps(document, ensure_ascii=False).replace("</", "<\\/")
    return ("<!doctype html><html lang=en><head><meta charset=utf-8>"
            f"<title>Subject access {html.escape(request['reference'])}</title>"
            "<style>body{font-family:sans-serif;max-width:60rem;margin:auto}pre{white-space:pre-wrap;"
            "background:#f3f2f1;padding:.5rem}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
            "padding:.2rem .4rem;font-size:.85rem}.incomplete{color:#d4351c}</style></head><body>"
            + "".join(parts)
            + f"<script type=application/json id=sar-data>{data}</script></body></html>")


def document_of_file(text: str) -> dict:
    """The JSON document embedded in an exported file."""
    start = text.index("<script type=application/json id=sar-data>") + len("<script type=application/json id=sar-data>")
    return json.loads(text[start:text.index("</script>", start)].replace("<\\/", "</"))
