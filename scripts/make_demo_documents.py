#!/usr/bin/env python3
"""Writes the PDF and DOCX files of demo/documents/ from the texts below (self-written,
for the demo company "Alder & Finch Outdoor Supply"). The other demo documents are plain
files edited by hand. Run it after changing a text; the output is deterministic."""

import os
import zipfile
from xml.sax.saxutils import escape

OUT = os.path.join(os.path.dirname(__file__), "..", "demo", "documents")

PDFS = {
    "q3-sales-report.pdf": [
        [
            "Alder & Finch Outdoor Supply - Third Quarter Sales Report",
            "Revenue for the third quarter reached 4.82 million dollars, up 11 percent",
            "on the same quarter last year. Online orders grew 23 percent and now make",
            "up 41 percent of sales; the two retail stores grew 3 percent.",
            "Tents and sleeping bags led the growth. The Ridgeline 2 tent sold 1,940",
            "units, twice the forecast, and was out of stock for nine days in August.",
            "Rain jackets fell 6 percent after a dry July in the northern region.",
        ],
        [
            "Margins and outlook",
            "Gross margin improved from 38.5 to 40.2 percent, helped by lower freight",
            "costs after the switch to the Portside consolidated shipping lane.",
            "Returns stayed at 4.1 percent of units sold.",
            "For the fourth quarter we forecast 5.6 million dollars, with the holiday",
            "gift guide campaign starting on November 3. The main risk is stock of the",
            "Ridgeline 2 tent: the supplier confirmed 3,000 units for October.",
        ],
    ],
    "supplier-agreement-summary.pdf": [
        [
            "Supplier agreement summary: Kestrel Textiles Ltd.",
            "Term: three years from March 1, renewing yearly unless either side gives",
            "90 days of written notice. Kestrel supplies shell fabric for rain jackets",
            "and the fly sheets of all tents.",
            "Prices are fixed for the first year and may rise by at most 4 percent a",
            "year after that. Payment terms are net 45 days from the invoice date.",
            "Late deliveries of more than 14 days give a 2 percent credit per week.",
            "Quality: every roll is tested for a hydrostatic head of 3,000 mm; rolls",
            "that fail are replaced at the supplier's cost within 21 days.",
            "Contact for the account: Priya Raman, purchasing lead.",
        ],
    ],
}

DOCXS = {
    "onboarding-checklist.docx": [
        "New employee onboarding checklist",
        "Before the first day: the hiring manager orders a laptop and a badge, and "
        "adds the new employee to the team calendar and the chat channels.",
        "First day: a welcome tour of the store or the warehouse, the safety briefing, "
        "and setting up the laptop with the IT helpdesk.",
        "First week: read the employee handbook, complete the security awareness "
        "course, and meet your buddy for lunch on Wednesday.",
        "First month: a check-in with your manager at day 30 to agree on goals for "
        "the first quarter.",
        "Questions go to people@alderfinch.example or to your buddy.",
    ],
    "warehouse-safety-guide.docx": [
        "Warehouse safety guide",
        "Safety shoes and a high-visibility vest are required on the warehouse floor "
        "at all times. Hearing protection is required near the baler.",
        "Forklifts may only be driven by staff with a valid certificate; the "
        "certificate is renewed every three years. Pedestrians keep to the green "
        "walkways and never walk under a raised load.",
        "Lift with your legs: boxes over 23 kg are carried by two people or moved "
        "with a pallet jack.",
        "Report every near miss in the safety log the same day. The fire assembly "
        "point is the north parking lot, beside the bicycle racks.",
    ],
}


def pdf(pages):
    """A minimal PDF 1.4 with one Helvetica text stream per page."""
    objects = []

    def add(body):
        objects.append(body)
        return len(objects)

    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    pages_id = len(objects) + 2 * len(pages) + 1
    kids = []
    for lines in pages:
        text = ["BT", "/F1 11 Tf", "14 TL", "56 780 Td"]
        for line in lines:
            safe = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            text.append(f"({safe}) Tj T*")
        text.append("ET")
        stream = "\n".join(text).encode("latin-1")
        content = add(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        kids.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] "
                b"/Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>"
                % (pages_id, font, content)
            )
        )
    assert add(
        b"<< /Type /Pages /Kids [%s] /Count %d >>"
        % (b" ".join(b"%d 0 R" % k for k in kids), len(kids))
    ) == pages_id
    catalog = add(b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id)
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        catalog,
        xref,
    )
    return bytes(out)


def docx(paragraphs, path):
    body = "".join(
        f"<w:p><w:r><w:t xml:space=\"preserve\">{escape(p)}</w:t></w:r></w:p>" for p in paragraphs
    )
    files = {
        "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
        "</Types>",
        "_rels/.rels": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>'
        "</Relationships>",
        "word/document.xml": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        f"<w:body>{body}</w:body></w:document>",
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in files.items():
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, text)


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, pages in PDFS.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(pdf(pages))
    for name, paragraphs in DOCXS.items():
        docx(paragraphs, os.path.join(OUT, name))


if __name__ == "__main__":
    main()
