"""The Reports page's form and figures, and the safeguarding pack's form: plain words, nothing sent on error."""
from datetime import date

from werkzeug.datastructures import MultiDict

from services.portal import figures, report_form, safeguarding_form
from services.referrals import reports, safeguarding

TODAY = date(2026, 11, 29)


def typed(report="referrals-by-agency", start=("1", "12", "2025"), end=("29", "11", "2026")) -> MultiDict:
    return MultiDict({"report": report, **dict(zip(("from-day", "from-month", "from-year"), start)),
                      **dict(zip(("to-day", "to-month", "to-year"), end))})


def texts(result):
    return [(e["href"], e["text"]) for e in result[1]]


def test_the_default_is_the_last_12_months_up_to_today_in_whole_months():
    assert report_form.default_period(TODAY) == (date(2025, 12, 1), TODAY)
    assert report_form.default_period(date(2026, 1, 15)) == (date(2025, 2, 1), date(2026, 1, 15))
    assert report_form.default_period(date(2026, 12, 31)) == (date(2026, 1, 1), date(2026, 12, 31))
    values = report_form.default_values(TODAY)
    assert report_form.choice_from_form(values, TODAY) == (
        {"report": "referrals-by-agency", "from": "2025-12-01", "to": "2026-11-29"}, [])
    assert not report_form.asked(MultiDict()) and report_form.asked(MultiDict({"to-year": ""}))


def test_a_report_and_two_real_dates_in_order_are_needed():
    assert report_form.choice_from_form(typed("hfsv"), TODAY) == ({"report": "hfsv", "from": "2025-12-01",
                                                                   "to": "2026-11-29"}, [])
    assert texts(report_form.choice_from_form(typed("everything", start=("", "", ""), end=("31", "2", "2026")),
                                              TODAY)) == [
        ("#report", "Select a report"), ("#from-day", "Enter the start date"),
        ("#to-day", "The end date must be a real date, like 1 12 2025")]
    assert texts(report_form.choice_from_form(typed(start=("1", "", "")), TODAY)) == [
        ("#from-month", "The start date must include a month and a year")]
    assert texts(report_form.choice_from_form(typed(end=("1", "x", "2026")), TODAY)) == [
        ("#to-day", "The end date must be in numbers, like 1 12 2025")]
    assert texts(report_form.choice_from_form(typed(start=("1", "1", "26")), TODAY)) == [
        ("#from-year", "The year of the start date must have 4 numbers, like 2025")]
    assert texts(report_form.choice_from_form(typed(start=("1", "1", "1999")), TODAY)) == [
        ("#from-year", "The start date must be in 2000 or later")]


def test_the_start_comes_before_the_end_and_the_end_is_not_in_the_future():
    assert texts(report_form.choice_from_form(typed(start=("1", "6", "2026"), end=("31", "5", "2026")), TODAY)) == [
        ("#from-day", "The start date must be the same as or before the end date")]
    assert texts(report_form.choice_from_form(typed(end=("30", "11", "2026")), TODAY)) == [
        ("#to-day", "The end date must be today or in the past")]
    assert report_form.choice_from_form(typed(start=("29", "11", "2026")), TODAY)[1] == []   # one day is fine


def test_a_download_link_needs_a_known_report_and_iso_dates_in_order():
    args = MultiDict({"from": "2025-12-01", "to": "2026-11-29"})
    assert report_form.download_choice("hfsv", args) == {"report": "hfsv", "from": "2025-12-01", "to": "2026-11-29"}
    assert report_form.download_choice("everything", args) is None
    assert report_form.download_choice("hfsv", MultiDict({"from": "2026-12-01", "to": "2026-11-29"})) is None
    assert report_form.download_choice("hfsv", MultiDict({"from": "1/12/2025", "to": "2026-11-29"})) is None


def test_the_portal_offers_exactly_the_services_reports_and_lawful_bases():
    assert tuple(figures.REPORTS) == reports.REPORTS
    assert [code for code, _, _ in safeguarding_form.LAWFUL_BASES] == list(safeguarding.LAWFUL_BASES)


REPORT = {"report": "referrals-by-agency", "title": "Referrals", "from": "2025-12-01", "to": "2026-02-10",
          "suppressed": False, "notes": [],
          "columns": [{"name": "month", "kind": "label", "description": "month"},
                      {"name": "agency", "kind": "label", "description": "agency"},
                      {"name": "referrals", "kind": "count", "description": "referrals received"}],
          "rows": [{"month": "2025-12", "agency": "rethink", "referrals": 2},
                   {"month": "2026-02", "agency": "mind", "referrals": 3},
                   {"month": "2026-02", "agency": "rethink", "referrals": 1}]}


def test_a_report_reads_in_words_with_every_figure_in_its_table():
    table = figures.report_table(REPORT)
    assert table["headings"] == [("Month", False), ("Referring agency", False), ("Referrals", True)]
    assert [[text for text, _ in row] for row in table["rows"]] == [
        ["December 2025", "Rethink", "2"], ["February 2026", "Mind", "3"], ["February 2026", "Rethink", "1"]]
    rates = {**REPORT, "report": "hfsv", "columns": [
        {"name": "priority", "kind": "label", "description": "p"}, {"name": "completion_pct", "kind": "rate",
                                                                     "description": "c"},
        {"name": "median_hours_to_visit", "kind": "value", "description": "m"},
        {"name": "new_column", "kind": "count", "description": "something new"}],
        "rows": [{"priority": "very_high", "completion_pct": 66.667, "median_hours_to_visit": None,
                  "new_column": "<5"}]}
    table = figures.report_table(rates)
    assert table["headings"][-1] == ("Something new", True)        # a column the portal does not know yet
    row = [text for text, _ in table["rows"][0]]
    assert row[:2] == ["Very high", "66.7%"] and "no figure" in str(row[2]) and row[3] == "<5"


def test_a_reports_chart_has_a_bar_for_every_month_of_the_period():
    chart = str(figures.report_chart(REPORT))
    assert 'role="img"' in chart and "1 December 2025 to 10 February 2026" in chart
    for month in ("Dec", "Jan", "Feb"):
        assert f">{month}</tspan>" in chart                     # January had none: still on the axis
    assert figures.months_between("2025-11-30", "2026-01-01") == ["2025-11", "2025-12", "2026-01"]
    assert figures.report_chart({**REPORT, "rows": []}) is None


def test_a_rooms_chart_says_its_ratings_and_their_change():
    chart = str(figures.room_chart("living_room", [{"rated_on": "2026-11-20", "score": 7},
                                                   {"rated_on": "2026-11-29", "score": 5}], "ratings-living_room"))
    assert 'id="ratings-living-room-title"' in chart and "Living room: clutter ratings" in chart
    assert "7 on 20 November 2026, 5 on 29 November 2026. Better by 2." in chart


def test_a_pack_needs_a_known_lawful_basis_and_a_reason():
    assert safeguarding_form.pack_from_form(MultiDict({"lawful-basis": "vital_interests",
                                                       "pack-note": " Rating 8, exits blocked "})) == (
        {"lawful_basis": "vital_interests", "note": "Rating 8, exits blocked"}, [])
    assert texts(safeguarding_form.pack_from_form(MultiDict({"lawful-basis": "because", "pack-note": " "}))) == [
        ("#lawful-basis", "Select the lawful basis for sharing their details"),
        ("#pack-note", "Enter why you are referring them to adult social care")]
    assert texts(safeguarding_form.pack_from_form(MultiDict({"lawful-basis": "consent", "pack-note": "x" * 2001}))) \
        == [("#pack-note", "Why you are referring them must be 2000 characters or fewer")]


def test_consent_is_offered_only_while_it_is_on_record_and_a_refusal_reads_plainly():
    assert [code for code, _, _ in safeguarding_form.offered({"consent": {"referral": True}})][0] == "consent"
    assert "consent" not in [code for code, _, _ in safeguarding_form.offered({"consent": {"referral": False}})]
    assert "erased" in safeguarding_form.refused_in_words({"erased_at": "2026-11-29T10:00:00Z"}, "consent")
    assert "consent is no longer on record" in safeguarding_form.refused_in_words({"consent": {}}, "consent")


def test_attendance_reads_each_session_and_charts_each_months_totals():
    report = {"report": "attendance", "title": "Attendance", "from": "2026-11-01", "to": "2026-12-31",
              "suppressed": False, "notes": [], "columns": [
                  {"name": "month", "kind": "label", "description": "m"},
                  {"name": "session", "kind": "label", "description": "s"},
                  {"name": "kind", "kind": "label", "description": "k"},
                  {"name": "came", "kind": "count", "description": "c"},
                  {"name": "people_who_came", "kind": "count", "description": "p"}],
              "rows": [{"month": "2026-12", "session": "2026-12-03 18:00", "kind": "online", "came": 3,
                        "did_not_come": 1, "people_who_came": None},
                       {"month": "2026-12", "session": "month total (1 session)", "kind": "all", "came": 3,
                        "did_not_come": 1, "people_who_came": 3}]}
    rows = [[str(text) for text, _ in row] for row in figures.report_table(report)["rows"]]
    assert rows[0][:4] == ["December 2026", "3 December 2026 at 18:00", "Online", "3"]
    assert "no figure" in rows[0][4]
    assert rows[1][1:3] == ["Month total (1 session)", "All"]
    chart = str(figures.report_chart(report))
    assert ">Nov</tspan>" in chart and ">Dec</tspan>" in chart and "Different people who came" in chart
