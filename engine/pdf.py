"""PDF documents with ReportLab: tables that break across pages, a footer with page numbers,
and a BPMN diagram drawn from its DI with the path a case took."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from lxml import etree
from reportlab.graphics.shapes import Circle, Drawing, Group, Line, Polygon, Rect, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from reportlab.platypus.flowables import Flowable

from .pdf_words import word
from .spiff import SAFE_XML_PARSER

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
DI = "http://www.omg.org/spec/DD/20100524/DI"
DONE = colors.HexColor("#2e7d32")
WAITING = colors.HexColor("#1565c0")
_styles = getSampleStyleSheet()
SMALL = ParagraphStyle("small", parent=_styles["BodyText"], fontSize=7.5, leading=9)
CHUNK = 40  # table rows per flowable
BODY = ParagraphStyle("body", parent=_styles["BodyText"], fontSize=9, leading=11)


def esc(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cell(value: Any) -> Any:
    """Short values as plain text (fast to lay out); longer ones as paragraphs that wrap."""
    text = "" if value is None else str(value)
    return text if len(text) <= 24 else Paragraph(esc(text), SMALL)


class Document:
    """A document being written: headings, paragraphs, tables; ``bytes()`` lays it out."""

    def __init__(self, title: str, lang: str, wide: bool = False) -> None:
        self.title, self.lang, self.wide = title, lang, wide
        self.story: list[Flowable] = [Paragraph(esc(title), _styles["Title"])]

    def heading(self, text: str) -> None:
        self.story += [Spacer(1, 4 * mm), Paragraph(esc(text), _styles["Heading2"])]

    def para(self, text: str, style: ParagraphStyle = BODY) -> None:
        self.story.append(Paragraph(esc(text), style))

    def pairs(self, rows: Sequence[tuple[str, Any]]) -> None:
        self.table(["", ""], [[k, v] for k, v in rows], widths=[45 * mm, None], header=False)

    def table(
        self,
        headers: Sequence[str],
        rows: Sequence[Sequence[Any]],
        widths: list[Any] | None = None,
        header: bool = True,
    ) -> None:
        if not rows:
            self.para(word("none", self.lang))
            return
        # A long table in chunks: ReportLab splits one table across pages again and again,
        # which grows with the square of its rows; a chunk a page keeps it linear.
        head = [[Paragraph(f"<b>{esc(h)}</b>", SMALL) for h in headers]] if header else []
        for start in range(0, len(rows), CHUNK):
            body = [[_cell(c) for c in row] for row in rows[start : start + CHUNK]]
            table = Table(head + body, colWidths=widths, repeatRows=1 if header else 0, hAlign="LEFT")
            style = [
                ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
                ("FONTSIZE", (0, 0), (-1, -1), 7.5),
            ]
            if header:
                style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")))
            table.setStyle(TableStyle(style))
            self.story.append(table)

    def drawing(self, drawing: Drawing) -> None:
        self.story.append(drawing)

    def page_break(self) -> None:
        self.story.append(PageBreak())

    def bytes(self) -> bytes:
        out = io.BytesIO()
        size = landscape(A4) if self.wide else A4
        margin = 14 * mm
        doc = SimpleDocTemplate(
            out, pagesize=size, leftMargin=margin, rightMargin=margin, topMargin=margin, bottomMargin=margin,
            title=self.title, author="Mutu",
        )  # fmt: skip
        label = word("page", self.lang)

        def footer(canvas: Any, document: Any) -> None:
            canvas.saveState()
            canvas.setFont("Helvetica", 7)
            canvas.drawString(margin, 8 * mm, self.title)
            canvas.drawRightString(size[0] - margin, 8 * mm, f"{label} {document.page}")
            canvas.restoreState()

        doc.build(list(self.story), onFirstPage=footer, onLaterPages=footer)
        return out.getvalue()


def _bounds(el: Any) -> tuple[float, float, float, float] | None:
    b = el.find(f"{{{DC}}}Bounds")
    if b is None:
        return None
    return float(b.get("x")), float(b.get("y")), float(b.get("width")), float(b.get("height"))


def diagram(
    xml: str, process_id: str, done: set[str], active: set[str], names: dict[str, str], width: float
) -> Drawing:
    """The process's diagram scaled to ``width`` points; run elements green, waiting ones blue."""
    root = etree.fromstring(xml.encode("utf-8"), SAFE_XML_PARSER)
    kinds = {
        el.get("id"): etree.QName(el).localname
        for el in root.iter()
        if isinstance(el.tag, str) and el.get("id")
    }
    labels = {
        el.get("id"): names.get(el.get("id"), el.get("name") or "")
        for el in root.iter()
        if isinstance(el.tag, str) and el.get("id")
    }
    shapes, edges = [], []
    for plane in root.iter(f"{{{BPMNDI}}}BPMNPlane"):
        for el in plane:
            if not isinstance(el.tag, str):
                continue
            ref = el.get("bpmnElement")
            if etree.QName(el).localname == "BPMNShape":
                box = _bounds(el)
                if box:
                    shapes.append((ref, box))
            elif etree.QName(el).localname == "BPMNEdge":
                points = [(float(p.get("x")), float(p.get("y"))) for p in el.findall(f"{{{DI}}}waypoint")]
                edges.append((ref, points))
    if not shapes:
        return Drawing(width, 10)
    xs = [b[0] for _r, b in shapes] + [b[0] + b[2] for _r, b in shapes]
    ys = [b[1] for _r, b in shapes] + [b[1] + b[3] for _r, b in shapes]
    left, top, right, bottom = min(xs) - 10, min(ys) - 10, max(xs) + 10, max(ys) + 10
    scale = min(width / (right - left), 1.0)
    height = (bottom - top) * scale

    def at(x: float, y: float) -> tuple[float, float]:
        return (x - left) * scale, height - (y - top) * scale

    group = Group()
    for ref, box in shapes:
        kind = kinds.get(ref, "")
        x, y, w, h = box
        color = DONE if ref in done else WAITING if ref in active else colors.black
        stroke = 1.6 if color is not colors.black else 0.5
        if kind in ("participant", "lane"):
            x0, y0 = at(x, y + h)
            group.add(
                Rect(
                    x0,
                    y0,
                    w * scale,
                    h * scale,
                    fillColor=None,
                    strokeColor=colors.lightgrey,
                    strokeWidth=0.4,
                )
            )
            if kind == "participant" or labels.get(ref):
                group.add(
                    String(
                        x0 + 2,
                        y0 + h * scale - 7,
                        labels.get(ref, "")[:40],
                        fontSize=5,
                        fillColor=colors.grey,
                    )
                )
            continue
        cx, cy = at(x + w / 2, y + h / 2)
        if kind.endswith("Event"):
            group.add(
                Circle(cx, cy, w * scale / 2, fillColor=colors.white, strokeColor=color, strokeWidth=stroke)
            )
        elif kind.endswith("Gateway"):
            hw, hh = w * scale / 2, h * scale / 2
            group.add(
                Polygon(
                    [cx - hw, cy, cx, cy + hh, cx + hw, cy, cx, cy - hh],
                    fillColor=colors.white,
                    strokeColor=color,
                    strokeWidth=stroke,
                )
            )
        else:
            x0, y0 = at(x, y + h)
            group.add(
                Rect(
                    x0,
                    y0,
                    w * scale,
                    h * scale,
                    rx=3,
                    ry=3,
                    fillColor=colors.white,
                    strokeColor=color,
                    strokeWidth=stroke,
                )
            )
            text = labels.get(ref, "")
            for i, line in enumerate(_wrap(text, max(6, int(w / 5.5)))[:3]):
                group.add(
                    String(
                        cx, cy + 3 * scale - i * 6, line, fontSize=max(3.5, 7 * scale), textAnchor="middle"
                    )
                )
    flows = {
        el.get("id"): (el.get("sourceRef"), el.get("targetRef"))
        for el in root.iter(f"{{{BPMN}}}sequenceFlow")
    }
    for ref, points in edges:
        src, dst = flows.get(ref, (None, None))
        taken = src in done and (dst in done or dst in active)
        color = DONE if taken else colors.grey
        for (x1, y1), (x2, y2) in zip(points, points[1:], strict=False):
            a, b = at(x1, y1), at(x2, y2)
            group.add(Line(a[0], a[1], b[0], b[1], strokeColor=color, strokeWidth=1.2 if taken else 0.4))
    drawing = Drawing(width, height)
    drawing.add(group)
    return drawing


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    current = ""
    for part in text.split():
        if current and len(current) + 1 + len(part) > width:
            lines.append(current)
            current = part
        else:
            current = f"{current} {part}".strip()
    if current:
        lines.append(current)
    return lines
