"""A statement of account as a PDF (ReportLab's layout engine, the built-in Helvetica)."""

from __future__ import annotations

from decimal import Decimal
from io import BytesIO
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from apps.credit.statements import Party, Statement


def _amount(value: Decimal) -> str:
    return f"{value:,.2f}"


def _party(title: str, party: Party, style: ParagraphStyle) -> Paragraph:
    lines = [f"<b>{escape(title)}</b>", f"<b>{escape(party.name)}</b>", *map(escape, party.address_lines)]
    lines += [escape(line) for line in party.extra_lines]
    return Paragraph("<br/>".join(lines), style)


def _table(rows: list[list[object]], widths: list[float], numeric_from: int) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 9),
                ("FONT", (0, 1), (-1, -1), "Helvetica", 9),
                ("ALIGN", (numeric_from, 0), (-1, -1), "RIGHT"),
                ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.black),
                ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f2f2f2")]),
            ]
        )
    )
    return table


def statement_pdf(statement: Statement) -> bytes:
    styles = getSampleStyleSheet()
    body = styles["BodyText"]
    buffer = BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=f"Statement of account, {statement.company.name}",
        author=statement.wholesaler.name,
    )
    currency = statement.currency
    parties = Table(
        [[_party("From", statement.wholesaler, body), _party("To", statement.customer, body)]],
        colWidths=[90 * mm, 90 * mm],
    )
    parties.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story: list[object] = [
        Paragraph("Statement of account", styles["Title"]),
        parties,
        Spacer(1, 4 * mm),
        Paragraph(
            f"Period: {statement.start:%Y-%m-%d} to {statement.end:%Y-%m-%d} · Currency: {currency} · "
            f"Made {statement.generated_at:%Y-%m-%d %H:%M} ({escape(statement.company.time_zone)})",
            body,
        ),
        Spacer(1, 3 * mm),
    ]
    rows: list[list[object]] = [["Date", "Document", "Reference", "Due", "Amount", "Balance"]]
    rows.append([f"{statement.start:%Y-%m-%d}", "Opening balance", "", "", "", _amount(statement.opening)])
    for line in statement.lines:
        rows.append(
            [
                f"{line.day:%Y-%m-%d}",
                line.label,
                line.reference,
                f"{line.due_date:%Y-%m-%d}" if line.due_date else "",
                _amount(line.amount),
                _amount(line.balance),
            ]
        )
    rows.append([f"{statement.end:%Y-%m-%d}", "Closing balance", "", "", "", _amount(statement.closing)])
    story.append(_table(rows, [24 * mm, 28 * mm, 42 * mm, 24 * mm, 30 * mm, 32 * mm], numeric_from=4))
    story += [
        Spacer(1, 3 * mm),
        Paragraph(
            f"Invoiced in the period: {_amount(statement.invoiced)} {currency} · "
            f"Credited and paid in the period: {_amount(statement.credited)} {currency}",
            body,
        ),
        Spacer(1, 4 * mm),
        Paragraph(f"Aging as of {statement.end:%Y-%m-%d}", styles["Heading3"]),
    ]
    aging: list[list[object]] = [["Bucket", "Documents", f"Amount ({currency})"]]
    aging += [[row.label, str(row.count), _amount(row.amount)] for row in statement.aging.rows]
    aging.append(["Total", "", _amount(statement.aging.total)])
    story.append(_table(aging, [50 * mm, 30 * mm, 40 * mm], numeric_from=1))
    story.append(Spacer(1, 4 * mm))
    story += [Paragraph(escape(note), styles["Italic"]) for note in statement.notes]
    document.build(story)
    return buffer.getvalue()
