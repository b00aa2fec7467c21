"""Charts drawn on the server: accessible SVG from plain numbers, every label escaped, a scale that fits."""
import re
import xml.etree.ElementTree as ET

import pytest

from services.portal.charts import Series, Size, bar_chart, line_chart, number

SVG = "{http://www.w3.org/2000/svg}"


def parsed(markup) -> ET.Element:
    return ET.fromstring(str(markup))  # well-formed XML, or this raises


def bar_heights(svg: ET.Element, colour: str) -> list[float]:
    return [float(r.get("height")) for r in svg.iter(f"{SVG}rect") if r.get("fill") == colour
            and float(r.get("width")) > 12]


def texts(svg: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in svg.iter(f"{SVG}text")]


def test_a_chart_is_an_image_named_by_its_title_and_described_by_its_desc():
    svg = parsed(bar_chart(["Nov"], [Series("Mind", [3])], chart_id="Report: by agency!", title="Referrals",
                           description="Per month. The table below gives every figure."))
    assert svg.get("role") == "img"
    assert svg.get("aria-labelledby") == "report-by-agency-title report-by-agency-desc"
    assert svg.find(f"{SVG}title").get("id") == "report-by-agency-title"
    assert svg.find(f"{SVG}title").text == "Referrals"
    assert svg.find(f"{SVG}desc").text == "Per month. The table below gives every figure."
    assert svg.get("viewBox") == "0 0 640 320" and svg.get("width") == "100%"   # scales with the page
    assert "style" not in str(bar_chart(["a"], [Series("b", [1])], chart_id="c", title="t", description="d"))


def test_every_label_is_escaped():
    hostile = '<script>alert("x")</script> & "quotes"'
    markup = str(bar_chart([hostile], [Series(hostile, [1]), Series("Other", [2])], chart_id="x",
                           title=hostile, description=hostile))
    assert "<script>" not in markup
    svg = parsed(markup)
    assert svg.find(f"{SVG}title").text == hostile                    # shown as written, not run
    assert hostile in texts(svg)                                      # the category and the legend
    line = str(line_chart([hostile], [Series(hostile, [1])], chart_id="y", title=hostile, description=hostile))
    assert "<script>" not in line and parsed(line).find(f"{SVG}desc").text == hostile


def test_bars_are_in_proportion_and_labelled_with_their_figures():
    svg = parsed(bar_chart(["Dec", "Jan"], [Series("Mind", [2, 4]), Series("Rethink", [1, None])],
                           chart_id="c", title="t", description="d"))
    mind, rethink = bar_heights(svg, "#1d70b8"), bar_heights(svg, "#d4351c")
    assert len(mind) == 2 and mind[1] == pytest.approx(2 * mind[0], rel=0.01)
    assert len(rethink) == 1 and rethink[0] == pytest.approx(mind[0] / 2, rel=0.01)   # None: no bar at all
    shown = texts(svg)
    assert {"2", "4", "1"} <= set(shown) and {"Mind", "Rethink"} <= set(shown)      # figures and legend
    axis = [t for t in shown if re.fullmatch(r"\d+", t)]
    assert "0" in axis and max(int(t) for t in axis) >= 4                            # the scale reaches the top


def test_a_single_series_has_no_legend_and_negative_bars_hang_below_zero():
    svg = parsed(bar_chart(["Living room", "Kitchen"], [Series("Mean change", [-1.5, 0.5])],
                           chart_id="c", title="t", description="d"))
    assert "Mean change" not in texts(svg)
    assert "\u22121.5" in texts(svg) and "0.5" in texts(svg)         # a true minus sign
    bars = [r for r in svg.iter(f"{SVG}rect")]
    zero_line = [float(line.get("y1")) for line in svg.iter(f"{SVG}line")
                 if line.get("stroke") == "#505a5f" and line.get("y1") == line.get("y2")][0]
    assert float(bars[0].get("y")) == pytest.approx(zero_line, abs=0.2)   # from zero downwards
    assert float(bars[1].get("y")) + float(bars[1].get("height")) == pytest.approx(zero_line, abs=0.2)


def test_a_line_joins_its_points_on_a_fixed_scale_and_a_gap_breaks_it():
    svg = parsed(line_chart(["20 Nov\n2026", "29 Nov\n2026", "1 Dec\n2026", "5 Dec\n2026"],
                            [Series("Living room", [7, 5, None, 3])], chart_id="room", title="t", description="d",
                            size=Size(320, 190, 12), y_range=(1, 9)))
    lines = list(svg.iter(f"{SVG}polyline"))
    assert len(lines) == 1 and len(lines[0].get("points").split()) == 2   # 7 -> 5; 3 stands alone
    points = [(float(c.get("cx")), float(c.get("cy"))) for c in svg.iter(f"{SVG}circle")]
    assert len(points) == 3
    assert points[0][1] < points[1][1] < points[2][1]                     # higher rating, higher on the chart
    assert [t for t in texts(svg) if t in "13579"][:5] == ["1", "3", "5", "7", "9"]   # the rating's own range
    assert "20 Nov2026" in texts(svg)                                      # two lines under the point


def test_too_many_categories_are_labelled_every_so_often():
    months = [f"M{n:02d}\n2026" for n in range(60)]
    svg = parsed(bar_chart(months, [Series("Mind", list(range(60)))], chart_id="c", title="t", description="d"))
    labelled = [t for t in texts(svg) if t.startswith("M")]
    assert 5 < len(labelled) < 60 and labelled[0] == "M002026"


def test_a_series_must_have_a_figure_or_none_for_each_category():
    with pytest.raises(ValueError):
        bar_chart(["a", "b"], [Series("s", [1])], chart_id="c", title="t", description="d")


def test_numbers_read_plainly():
    assert [number(v) for v in (12, 12.0, 66.666, -0.5, 0)] == ["12", "12", "66.7", "\u22120.5", "0"]
