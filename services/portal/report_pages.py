"""Reports for coordinators and admins: a report over a period as a table and a chart, and its CSV.

The referrals service computes every figure (`GET /reports/{name}`) and decides who may see it;
the page asks as the signed-in person. The table shows the exact figures (JSON); the download is
the service's CSV export, where small-number disclosure control has already been applied.
"""
from __future__ import annotations

from werkzeug.http import parse_options_header

from services.common.logs import get_logger

from . import figures, report_form
from .dependencies import ApiError
from .display import LONDON

log = get_logger(__name__)

TITLE = "Reports"


def reports_page(services, page):
    args = page.request.args
    today = _today()
    if not report_form.asked(args):
        values = report_form.default_values(today)
        choice, errors = report_form.choice_from_form(values, today)
    else:
        values = {key: args.get(key, "") for key in report_form.FIELDS}
        choice, errors = report_form.choice_from_form(args, today)
    if errors:
        log.info("report_form_refused", fields=sorted(e["field"] for e in errors))
        return _render(page, values, errors=errors, status=400)
    try:
        report = services.as_person(page).call("referrals", "GET", f"/reports/{choice['report']}",
                                               params={"from": choice["from"], "to": choice["to"]})
    except ApiError as exc:
        if exc.status != 400:
            raise
        log.info("report_refused_by_service", fields=sorted(exc.body.get("fields", {})))
        return _render(page, values, status=400, errors=[{
            "field": "from", "href": "#from-day",
            "text": "Check the dates: " + (exc.body.get("message") or "the report could not be made for them")}])
    return _render(page, values, report=report, choice=choice)


def download(services, page, name: str):
    choice = report_form.download_choice(name, page.request.args)
    if choice is None:
        return page.render("problem.html", status=400, title="This download link is not right",
                           message="Choose the report and its dates again on the Reports page, then download it.",
                           link=("/reports", "Go to Reports"))
    response = services.as_person(page).request("referrals", "GET", f"/reports/{name}",
                                                 params={"from": choice["from"], "to": choice["to"], "format": "csv"})
    filename = parse_options_header(response.headers.get("Content-Disposition", ""))[1].get("filename") \
        or f"{name}_{choice['from']}_{choice['to']}.csv"
    log.info("report_downloaded", report=name)
    return page.send_file(response.content, "text/csv", filename)


def _render(page, values, *, errors=None, report=None, choice=None, status=200):
    return page.render("reports.html", status=status, title=TITLE, values=values, errors=errors or [],
                       error_for={e["field"]: e["text"] for e in (errors or [])}, report_options=[(name, *words) for name, words in figures.REPORTS.items()],
                       report=report, choice=choice,
                       table=figures.report_table(report) if report else None,
                       chart=figures.report_chart(report) if report else None,
                       period=f"{figures.long_date(choice['from'])} to {figures.long_date(choice['to'])}"
                       if choice and report else None)


def _today():
    from services.common.envelope import utcnow

    return utcnow().astimezone(LONDON).date()

