"""The Reports page's form: which report, and the period as two GOV.UK date inputs (London dates).

`choice_from_form` returns `(choice, [])` or `(None, errors)`; a choice is
`{"report", "from", "to"}` with ISO dates, ready for `GET /reports/{name}?from=&to=`. Nothing is
fetched while there is an error. With nothing typed yet, the page shows the default: the last 12
months up to today, from the first day of the month 11 months ago (so each month counts whole).
"""
from __future__ import annotations

from datetime import date

from .figures import REPORTS

DEFAULT_REPORT = "referrals-by-agency"
EARLIEST_YEAR = 2000
FIELDS = ("report", *(f"{end}-{part}" for end in ("from", "to") for part in ("day", "month", "year")))


def default_period(today: date) -> tuple[date, date]:
    """The last 12 months up to today: 1 December 2025 to 29 November 2026 on 29 November 2026."""
    months_back = today.year * 12 + today.month - 1 - 11
    return date(months_back // 12, months_back % 12 + 1, 1), today


def default_values(today: date) -> dict:
    start, end = default_period(today)
    return {"report": DEFAULT_REPORT, **_typed("from", start), **_typed("to", end)}


def asked(args) -> bool:
    """Whether the person has sent the form (any of its fields), or only opened the page."""
    return any(key in args for key in FIELDS)


def choice_from_form(args, today: date) -> tuple[dict | None, list[dict]]:
    report = args.get("report", "")
    errors = []
    if report not in REPORTS:
        errors.append(_error("report", "report", "Select a report"))
    start, start_error = _day(args, "from", "start date")
    end, end_error = _day(args, "to", "end date")
    errors += [e for e in (start_error, end_error) if e]
    if end and end > today:
        errors.append(_error("to", "to-day", "The end date must be today or in the past"))
    if start and end and start > end and not end_error:
        errors.append(_error("from", "from-day", "The start date must be the same as or before the end date"))
    if errors:
        return None, errors
    return {"report": report, "from": start.isoformat(), "to": end.isoformat()}, []


def download_choice(name: str, args) -> dict | None:
    """The CSV link's `?from=YYYY-MM-DD&to=YYYY-MM-DD` (as the page wrote it), or None if it is not that."""
    try:
        start, end = date.fromisoformat(args.get("from", "")), date.fromisoformat(args.get("to", ""))
    except ValueError:
        return None
    if name not in REPORTS or start > end:
        return None
    return {"report": name, "from": start.isoformat(), "to": end.isoformat()}


def _day(args, prefix: str, what: str) -> tuple[date | None, dict | None]:
    parts = {part: args.get(f"{prefix}-{part}", "").strip() for part in ("day", "month", "year")}
    missing = [part for part, typed in parts.items() if not typed]
    if len(missing) == 3:
        return None, _error(prefix, f"{prefix}-day", f"Enter the {what}")
    if missing:
        return None, _error(prefix, f"{prefix}-{missing[0]}",
                            f"The {what} must include a {' and a '.join(missing)}")
    if not all(typed.isdigit() for typed in parts.values()):
        return None, _error(prefix, f"{prefix}-day", f"The {what} must be in numbers, like 1 12 2025")
    if len(parts["year"]) != 4:
        return None, _error(prefix, f"{prefix}-year", f"The year of the {what} must have 4 numbers, like 2025")
    if int(parts["year"]) < EARLIEST_YEAR:
        return None, _error(prefix, f"{prefix}-year", f"The {what} must be in {EARLIEST_YEAR} or later")
    try:
        return date(int(parts["year"]), int(parts["month"]), int(parts["day"])), None
    except ValueError:
        return None, _error(prefix, f"{prefix}-day", f"The {what} must be a real date, like 1 12 2025")


def _typed(prefix: str, day: date) -> dict:
    return {f"{prefix}-day": str(day.day), f"{prefix}-month": str(day.month), f"{prefix}-year": str(day.year)}


def _error(field: str, href: str, text: str) -> dict:
    """`field` finds the message by the field (the date input as a whole); `href` is the box to fix."""
    return {"field": field, "href": f"#{href}", "text": text}
