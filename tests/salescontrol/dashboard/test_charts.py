"""The SVG charts as a browser and a screen reader get them: well-formed, titled,
scaled to their largest value, empty when there is nothing to show, and never
markup from a label."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from salescontrol.dashboard.charts import Bar, bar_chart, column_chart

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ET.Element:
    return ET.fromstring(markup)


def bars(svg: ET.Element) -> list[ET.Element]:
    """The value rectangles (accent-filled) in order."""
    return [r for r in svg.iter(f"{SVG}rect") if r.get("fill") == "#2458c6"]


def test_bars_scale_to_the_largest_value() -> None:
    svg = parse(bar_chart("По точкам", [Bar("А", 10, "10"), Bar("Б", 40, "40"), Bar("В", 0, "0")]))

    widths = [float(r.get("width", "nan")) for r in bars(svg)]
    assert widths[1] == max(widths) > 0
    assert widths[0] == widths[1] / 4
    assert widths[2] == 0


def test_a_share_scales_to_a_given_maximum() -> None:
    svg = parse(bar_chart("Попытки", [Bar("А", 0.25, "25 %")], maximum=1.0))
    track, value = (float(r.get("width", "nan")) for r in svg.iter(f"{SVG}rect"))
    assert value == track / 4


def test_a_chart_is_titled_and_every_bar_tells_its_value() -> None:
    svg = parse(bar_chart("Категории", [Bar("Десерт", 3, "3", "принято 1")]))

    assert svg.get("role") == "img" and svg.get("aria-label") == "Категории"
    assert svg.get("width") == "100%" and svg.get("viewBox", "").startswith("0 0 ")
    assert svg.find(f"{SVG}title") is not None
    assert svg.find(f"{SVG}title").text == "Категории"  # type: ignore[union-attr]
    group = svg.find(f"{SVG}g")
    assert group is not None
    assert group.find(f"{SVG}title").text == "Десерт — 3 — принято 1"  # type: ignore[union-attr]


def test_labels_are_escaped() -> None:
    label = '<script>alert("x")</script> & "Касса"'
    markup = bar_chart("Точки <b>", [Bar(label, 1, "1 <i>")])

    assert "<script>" not in markup and "<b>" not in markup and "<i>" not in markup
    svg = parse(markup)  # still well-formed XML
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert label in texts and "1 <i>" in texts
    assert svg.get("aria-label") == "Точки <b>"


def test_long_labels_are_shortened_on_the_bar_but_whole_in_its_title() -> None:
    label = "добавки (зефир, двойной шот, альтернативное молоко, подогрев) и ещё что-нибудь"
    svg = parse(bar_chart("Категории", [Bar(label, 1, "1")]))
    shown = next(t.text or "" for t in svg.iter(f"{SVG}text"))
    assert shown.endswith("…") and len(shown) < len(label)
    assert label in (svg.find(f"{SVG}g/{SVG}title").text or "")  # type: ignore[union-attr]


def test_no_data_renders_an_empty_state() -> None:
    for markup in (
        bar_chart("Категории", []),
        bar_chart("Категории", [Bar("А", 0, "0")]),
        column_chart("По часам", [Bar(f"{h}", 0, "0") for h in range(24)]),
        column_chart("По дням", []),
    ):
        svg = parse(markup)
        assert bars(svg) == []
        assert [t.text for t in svg.iter(f"{SVG}text")] == ["Нет данных за период"]
        assert svg.get("role") == "img"


def test_columns_scale_and_label_at_most_a_dozen_ticks() -> None:
    columns = [Bar(f"{day:02d}.03", day % 5, str(day % 5)) for day in range(1, 31)]
    svg = parse(column_chart("По дням", columns))

    heights = [float(r.get("height", "nan")) for r in bars(svg)]
    assert len(heights) == 30
    assert heights[3] == max(heights)  # the 4th: value 4
    assert heights[4] == 0 and heights[0] == heights[3] / 4
    ticks = [t.text for t in svg.iter(f"{SVG}text") if (t.text or "").endswith(".03")]
    assert ticks[0] == "01.03" and len(ticks) <= 12


def test_the_rate_line_breaks_where_there_is_no_share() -> None:
    columns = [Bar(str(h), 1, "1") for h in range(4)]
    svg = parse(column_chart("По часам", columns, rate=[0.5, 1.0, None, 0.0], rate_label="Попытки"))

    dots = list(svg.iter(f"{SVG}circle"))
    assert [d.find(f"{SVG}title").text for d in dots] == [  # type: ignore[union-attr]
        "Попытки: 50 %",
        "Попытки: 100 %",
        "Попытки: 0 %",
    ]
    # Full share at the top of the plot, none at its bottom.
    assert float(dots[1].get("cy", "nan")) < float(dots[0].get("cy", "nan"))
    assert float(dots[2].get("cy", "nan")) == max(float(d.get("cy", "nan")) for d in dots)
    lines = list(svg.iter(f"{SVG}polyline"))
    assert len(lines) == 1 and len(lines[0].get("points", "").split()) == 2
