from __future__ import annotations

import io
import time
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pdfplumber
import pypdfium2 as pdfium
import pytest

from helpers.data import PDF_SAMPLES
from ragserve.ingest.parsers.pdf import PASSWORD_MESSAGE, PDFIUM_LOCK, parse_pdf
from ragserve.ingest.parsers.pdf_grid import has_grid, page_edges
from ragserve.ingest.types import BlockKind, Box, ParsedDocument, ParseError

SAMPLES = sorted(PDF_SAMPLES.glob("*/*.pdf"))
TIME_BUDGET = 20.0  # seconds per file

# A phrase each sample's text holds (samples without text -- pictures only -- are left out).
EXPECTED_TEXT = {
    "001-trivial": "Lorem ipsum dolor sit amet",
    "002-trivial-libre-office-writer": "Lorem ipsum",
    "003-pdflatex-image": "Your Chapter",
    "004-pdflatex-4-pages": "Hello, here is some text without a meaning",
    "006-pdflatex-outline": "Foo",
    "008-reportlab-inline-image": "Test",
    "009-pdflatex-geotopo": "Topologie",
    "010-pdflatex-forms": "Name",
    "011-google-doc-document": "Beautiful is better than ugly.",
    "012-libreoffice-form": "Example for a Form",
    "013-reportlab-overlay": "Fingerprint",
    "014-outlines": "Foo",
    "015-arabic": "habibi",
    "016-libre-office-link": "awesome blog",
    "017-unreadable-meta-data": "Rotary Potentiometer",
    "018-base64-image": "PDF Annotator",
    "020-xmp": "Hello, World!",
    "021-pdfa": "crazy ones",
    "022-pdfkit": "Foo: bar",
    "024-annotations": "Some text.",
    "025-attachment": "Lorem ipsum",
    "026-latex-multicolumn": "Lorem ipsum dolor sit amet",
}


def _sample(folder: str) -> Path:
    return next(PDF_SAMPLES.glob(f"{folder}/*.pdf"))


def _text(doc: ParsedDocument) -> str:
    return "\n".join(b.text for b in doc.blocks)


def _page_sizes(path_or_bytes: Path | bytes) -> list[tuple[float, float]]:
    with PDFIUM_LOCK:
        pdf = pdfium.PdfDocument(path_or_bytes)
        try:
            return [tuple(pdf.get_page_size(i)) for i in range(len(pdf))]  # displayed size
        finally:
            pdf.close()


def _build_pdf(objects: list[bytes]) -> bytes:
    """A PDF from object bodies; object 1 must be the catalog."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def _stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d %s >>\nstream\n%s\nendstream" % (len(data), extra, data)


def _text_op(x: float, y: float, text: str, font: str = "F1", size: float = 11) -> bytes:
    return f"BT /{font} {size} Tf {x} {y} Td ({text}) Tj ET\n".encode()


def _table_pdf(rotate: int = 0) -> bytes:
    """One page: a heading, a paragraph, a ruled 3x3 table, a closing line; shown turned by
    ``rotate`` degrees."""
    ops = [
        _text_op(72, 720, "Quarterly Report", "F2", 20),
        _text_op(72, 690, "Sales grew in every region this quarter."),
        _text_op(72, 676, "The table below lists the top products."),
        b"0.8 w\n",
    ]
    top, bottom, xs = 640, 580, (72, 172, 272, 372)
    for y in (640, 620, 600, 580):
        ops.append(f"{xs[0]} {y} m {xs[-1]} {y} l S\n".encode())
    for x in xs:
        ops.append(f"{x} {top} m {x} {bottom} l S\n".encode())
    cells = [("Product", "Units", "Region"), ("Apple", "30", "North"), ("Pear", "12", "South")]
    for r, row in enumerate(cells):
        for c, value in enumerate(row):
            ops.append(_text_op(xs[c] + 6, top - 14 - 20 * r, value, size=10))
    ops.append(_text_op(72, 540, "Prices are in euros."))
    return _build_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 6 0 R"
            b" /Resources << /Font << /F1 4 0 R /F2 5 0 R >> >> /Rotate %d >>" % rotate,
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold >>",
            _stream(b"".join(ops)),
        ]
    )


def _one_page_pdf(content: bytes, xobjects: Sequence[bytes] = ()) -> bytes:
    """A 612x792 pt page in Helvetica (/F1) with form XObjects /Fm1, /Fm2, ..."""
    names = b" ".join(b"/Fm%d %d 0 R" % (i, 5 + i) for i in range(1, len(xobjects) + 1))
    return _build_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 5 0 R"
            b" /Resources << /Font << /F1 4 0 R >> /XObject << %s >> >> >>" % names,
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
            _stream(content),
            *xobjects,
        ]
    )


def _plot_pdf() -> bytes:
    """A framed plot: three curves of 1000 short segments each, a zero line across the frame
    and a legend line beside it (ruling lines enough to look like a table at first sight)."""
    ops = [_text_op(72, 720, "Figure 1: three damped oscillations."), b"0.5 w\n"]
    ops += [b"72 400 400 250 re S\n", b"72 525 m 472 525 l S\n", b"490 400 m 490 650 l S\n"]
    for k in range(1, 4):
        xs = np.linspace(72, 472, 1001)
        ys = 525 + 100 / k * np.exp(-(xs - 72) / 200) * np.sin((xs - 72) / (4 * k))
        path = " ".join(f"{x:.2f} {y:.2f} l" for x, y in zip(xs[1:], ys[1:], strict=True))
        ops.append(f"{xs[0]:.2f} {ys[0]:.2f} m {path} S\n".encode())
    return _one_page_pdf(b"".join(ops))


def _form_table_pdf() -> bytes:
    """A ruled 3x3 grid drawn in a form XObject that is moved and scaled twice."""
    grid = [f"0 {y} m 300 {y} l S\n" for y in (0, 20, 40, 60)]
    grid += [f"{x} 0 m {x} 60 l S\n" for x in (0, 100, 200, 300)]
    form = _stream(
        "".join(grid).encode(),
        b"/Type /XObject /Subtype /Form /BBox [0 0 300 60] /Matrix [1 0 0 1 10 20]",
    )
    content = _text_op(72, 720, "A table in a form.") + b"q 1.5 0 0 1.2 50 300 cm /Fm1 Do Q\n"
    return _one_page_pdf(content, [form])


Edges = set[tuple[Any, ...]]


def _straight_edges(edges: list[dict[str, Any]]) -> Edges:
    """Horizontal and vertical edges of at least 1 pt, rounded to 0.1 pt."""
    return {
        (e["orientation"], *(round(e[k], 1) for k in ("x0", "top", "x1", "bottom")))
        for e in edges
        if e["orientation"] in ("h", "v")
        and e["height" if e["orientation"] == "v" else "width"] >= 1
    }


def _grid_check(
    data: bytes, text: Sequence[Box] = (Box(0, 0, 612, 792),)
) -> tuple[bool, Edges, Edges]:
    """(has_grid, our edges, pdfplumber's edges) of the first page; text everywhere by default."""
    with PDFIUM_LOCK:
        pdf = pdfium.PdfDocument(data)
        try:
            page = pdf[0]
            height = page.get_height()
            edges = page_edges(page, lambda x, y: (x, height - y))
        finally:
            pdf.close()
    assert edges is not None
    with pdfplumber.open(io.BytesIO(data)) as plumber_pdf:
        theirs = _straight_edges(plumber_pdf.pages[0].edges)
    return has_grid(edges, text), _straight_edges(edges), theirs


def _scanned_pdf() -> bytes:
    """One 360x90 pt page that is nothing but a grayscale picture of two lines of text."""
    img = np.full((180, 720), 255, np.uint8)
    cv2.putText(img, "Invoice number 4711", (20, 70), cv2.FONT_HERSHEY_SIMPLEX, 1.6, 0, 3)
    cv2.putText(img, "Payment received", (20, 150), cv2.FONT_HERSHEY_SIMPLEX, 1.6, 0, 3)
    image = _stream(
        zlib.compress(img.tobytes()),
        b"/Type /XObject /Subtype /Image /Width 720 /Height 180 /ColorSpace /DeviceGray"
        b" /BitsPerComponent 8 /Filter /FlateDecode",
    )
    return _build_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 360 90] /Contents 5 0 R"
            b" /Resources << /XObject << /Im1 4 0 R >> >> >>",
            image,
            _stream(b"q 360 0 0 90 0 0 cm /Im1 Do Q"),
        ]
    )


@pytest.mark.parametrize("path", SAMPLES, ids=[f"{p.parent.name}/{p.name}" for p in SAMPLES])
def test_every_sample_parses_or_fails_cleanly(path: Path) -> None:
    started = time.monotonic()
    try:
        doc = parse_pdf(path)
    except ParseError as exc:
        assert path.parent.name == "005-libreoffice-writer-password", str(exc)
        assert str(exc) == PASSWORD_MESSAGE
        return
    finally:
        assert time.monotonic() - started < TIME_BUDGET
    assert doc.page_count >= 1
    expected = EXPECTED_TEXT.get(path.parent.name)
    if expected is not None:
        assert expected in _text(doc)
    sizes = _page_sizes(path) if path.parent.name != "017-unreadable-meta-data" else None
    for block in doc.blocks:
        assert block.text.strip()
        assert 1 <= block.page <= doc.page_count
        assert block.box is not None
        width, height = sizes[block.page - 1] if sizes else (10_000.0, 10_000.0)
        assert 0 <= block.box.x0 <= block.box.x1 <= width + 0.5
        assert 0 <= block.box.top <= block.box.bottom <= height + 0.5
    assert all(isinstance(v, str) for v in doc.metadata.values())


def test_password_protected_pdf() -> None:
    with pytest.raises(ParseError) as info:
        parse_pdf(_sample("005-libreoffice-writer-password").read_bytes())
    assert str(info.value) == PASSWORD_MESSAGE


@pytest.mark.parametrize(
    "folder", ["001-trivial", "011-google-doc-document", "026-latex-multicolumn"]
)
def test_truncated_pdf_is_a_parse_error(folder: str) -> None:
    data = _sample(folder).read_bytes()
    with pytest.raises(ParseError, match=r"^The file is not a readable PDF: "):
        parse_pdf(data[: len(data) // 2])


@pytest.mark.parametrize(
    "data", [b"", np.random.default_rng(7).bytes(5000), b"%PDF-1.7\n" + b"\x00" * 300]
)
def test_not_a_pdf_is_a_parse_error(data: bytes) -> None:
    with pytest.raises(ParseError, match=r"^The file is not a readable PDF: .+"):
        parse_pdf(data)


def test_missing_file_is_a_parse_error(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match=r"^The file is not a readable PDF: "):
        parse_pdf(tmp_path / "absent.pdf")


def test_page_ranges() -> None:
    path = _sample("004-pdflatex-4-pages")
    whole = parse_pdf(path)
    assert whole.page_count == 4 and {b.page for b in whole.blocks} == {1, 2, 3, 4}
    part = parse_pdf(path, pages=[(2, 3)])
    assert part.page_count == 4
    assert {b.page for b in part.blocks} == {2, 3}
    assert part.blocks == [b for b in whole.blocks if b.page in (2, 3)]
    assert {b.page for b in parse_pdf(path, pages=[(4, 100), (1, 1)]).blocks} == {1, 4}
    assert parse_pdf(path, pages=[(7, 9)]).blocks == []


def test_large_document_range_and_outline_headings() -> None:
    doc = parse_pdf(_sample("009-pdflatex-geotopo"), pages=[(10, 10)], want_tables=False)
    assert doc.page_count == 117
    assert doc.title == "Geometrie und Topologie"
    assert doc.metadata["author"] == "Martin Thoma"
    headings = [(b.text, b.level) for b in doc.blocks if b.kind == BlockKind.HEADING]
    assert ("1.2 Metrische Räume", 2) in headings  # a second-level bookmark
    assert {b.page for b in doc.blocks} == {10}


def test_headings_from_outline_and_font_size() -> None:
    outline = parse_pdf(_sample("006-pdflatex-outline"))
    heads = [b for b in outline.blocks if b.kind == BlockKind.HEADING and b.page == 2]
    assert [b.text for b in heads][:2] == ["1 Foo", "2 Bar"]
    sized = parse_pdf(_sample("003-pdflatex-image"))
    assert sized.blocks[0].kind == BlockKind.HEADING and sized.blocks[0].level == 1
    assert sized.title == "1 Your Chapter"  # no title in the metadata: the first heading
    assert sized.blocks[1].kind == BlockKind.TEXT


def test_table_from_a_ruled_grid() -> None:
    doc = parse_pdf(_table_pdf())
    kinds = [b.kind for b in doc.blocks]
    assert kinds == [BlockKind.HEADING, BlockKind.TEXT, BlockKind.TABLE, BlockKind.TEXT]
    heading, para, table, tail = doc.blocks
    assert heading.text == "Quarterly Report" and heading.level == 1
    assert doc.title == "Quarterly Report"
    assert para.text == (
        "Sales grew in every region this quarter. The table below lists the top products."
    )
    assert table.rows == (
        ("Product", "Units", "Region"),
        ("Apple", "30", "North"),
        ("Pear", "12", "South"),
    )
    assert table.has_header
    assert "Apple | 30 | North" in table.text
    assert table.box is not None
    assert table.box.x0 == pytest.approx(72, abs=1) and table.box.x1 == pytest.approx(372, abs=1)
    assert table.box.top == pytest.approx(792 - 640, abs=1)
    assert "Apple" not in para.text + tail.text  # the table's text is not repeated as text
    assert tail.text == "Prices are in euros."
    assert [b.kind for b in parse_pdf(_table_pdf(), want_tables=False).blocks].count(
        BlockKind.TABLE
    ) == 0


@pytest.mark.parametrize("rotate", [0, 90, 180, 270])
def test_table_cells_as_pdfplumber_reads_them(rotate: int) -> None:
    """Tables come from PDFium's lines and characters; pdfplumber itself reads the same cells,
    on pages shown turned too."""
    data = _table_pdf(rotate)
    tables = [b for b in parse_pdf(data).blocks if b.kind == BlockKind.TABLE]
    with pdfplumber.open(io.BytesIO(data)) as plumber_pdf:
        found = plumber_pdf.pages[0].find_tables()
        theirs = [[[c or "" for c in row] for row in t.extract()] for t in found]
        boxes = [t.bbox for t in found]
    assert len(tables) == len(theirs) == 1
    assert [list(row) for row in tables[0].rows] == theirs[0]
    assert tables[0].box is not None
    assert (tables[0].box.x0, tables[0].box.top) == pytest.approx(boxes[0][:2], abs=0.01)
    if rotate == 0:  # (turned pages read as pdfplumber reads them: upside down at 180)
        assert ("Apple", "30", "North") in tables[0].rows


def test_table_in_a_real_document() -> None:
    doc = parse_pdf(_sample("011-google-doc-document"))
    tables = [b for b in doc.blocks if b.kind == BlockKind.TABLE]
    assert len(tables) == 1
    assert tables[0].rows[0][1:3] == ("Indonesia", "Germany")
    assert ("Capital", "Jakarta", "Berlin", "Vienna", "Paris", "Vatican City") in tables[0].rows
    texts = " ".join(b.text for b in doc.blocks if b.kind != BlockKind.TABLE)
    assert "Jakarta" not in texts


def test_grid_check_reads_pdfplumbers_edges() -> None:
    for data in (_table_pdf(), _form_table_pdf()):
        grid, ours, theirs = _grid_check(data)
        assert grid
        assert theirs and ours >= theirs  # also inside a moved and scaled form XObject
        assert not _grid_check(data, text=[])[0]  # empty cells: no table kept, no need to look
        assert not _grid_check(data, text=[Box(72, 70, 180, 80)])[0]  # text above the grid
    doc = parse_pdf(_form_table_pdf())
    # Not a table here: the first look at ruling lines sees top-level lines only (as before).
    assert [b.kind for b in doc.blocks] == [BlockKind.TEXT]


def test_plot_page_skips_table_detection(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[object] = []
    real_open = pdfplumber.open

    def spy(*args: Any, **kwargs: Any) -> Any:
        opened.append(args)
        return real_open(*args, **kwargs)

    monkeypatch.setattr(pdfplumber, "open", spy)
    plot = _plot_pdf()
    grid, ours, theirs = _grid_check(plot)
    assert not grid and ours >= theirs
    opened.clear()
    doc = parse_pdf(plot)
    assert [b.kind for b in doc.blocks] == [BlockKind.TEXT]
    assert opened == []  # pdfplumber never opened the file
    with real_open(io.BytesIO(plot)) as plumber_pdf:  # and would not have found a table
        found = plumber_pdf.pages[0].find_tables()
        assert not [t for t in found if len(t.rows) >= 2 and len(t.columns) >= 2]
    table = parse_pdf(_table_pdf())  # a ruled table is still looked for, and found,
    assert opened == []  # from PDFium's lines and characters: pdfminer never reads the page
    assert [b.kind for b in table.blocks].count(BlockKind.TABLE) == 1


def test_two_columns_read_column_by_column() -> None:
    doc = parse_pdf(_sample("026-latex-multicolumn"), pages=[(1, 1)])
    left = next(i for i, b in enumerate(doc.blocks) if b.text.startswith("Lorem ipsum dolor"))
    right = next(i for i, b in enumerate(doc.blocks) if b.text.startswith("pellentesque ante"))
    assert left < right
    assert doc.blocks[left].box.x1 < 306 < doc.blocks[right].box.x0  # type: ignore[union-attr]
    assert "adipiscing elit" in doc.blocks[left].text  # a hyphenated break is joined


def test_rotated_pages_and_arabic_text() -> None:
    path = _sample("015-arabic").parent / "habibi-rotated.pdf"
    doc = parse_pdf(path)
    assert doc.page_count == 4
    assert any("\u0600" <= ch <= "\u06ff" for ch in _text(doc))
    sizes = _page_sizes(path)
    assert sizes[0][0] > sizes[0][1]  # the first page is turned by 90 degrees
    corners = []
    for block in doc.blocks:
        width, height = sizes[block.page - 1]
        assert block.box is not None
        assert block.box.x1 <= width + 0.5 and block.box.bottom <= height + 0.5
        corners.append((block.box.x0 < width / 2, block.box.top < height / 2))
    # The same line, turned by 90, 180, 270 and 0 degrees: right top, right bottom, left bottom,
    # left top of the page as displayed.
    assert corners == [(False, True), (False, False), (True, False), (True, True)]


def test_scanned_page_is_ocrd() -> None:
    data = _scanned_pdf()
    doc = parse_pdf(data)
    text = _text(doc).lower()
    assert "invoice" in text and "payment" in text
    assert all(b.kind == BlockKind.TEXT and b.page == 1 for b in doc.blocks)
    first = next(b for b in doc.blocks if "invoice" in b.text.lower())
    assert first.box is not None
    assert 0 <= first.box.x0 < first.box.x1 <= 360.5 and 0 <= first.box.top < 45
    assert parse_pdf(data, ocr=False).blocks == []


def test_page_images() -> None:
    path = _sample("001-trivial")
    doc = parse_pdf(path, want_page_images=True, image_dpi=72)
    assert set(doc.page_images) == {1}
    png = doc.page_images[1]
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert img.shape[0] == pytest.approx(842, abs=1) and img.shape[1] == pytest.approx(595, abs=1)
    assert parse_pdf(path).page_images == {}
    two = parse_pdf(_sample("004-pdflatex-4-pages"), pages=[(2, 2)], want_page_images=True)
    assert set(two.page_images) == {2}


def test_metadata_and_title() -> None:
    doc = parse_pdf(_sample("011-google-doc-document"))
    assert doc.title == "PDF Example Document"
    assert doc.metadata["producer"].startswith("Skia/PDF")
    untitled = parse_pdf(_sample("008-reportlab-inline-image"))
    assert untitled.metadata["title"] == "untitled" and untitled.title != "untitled"
    assert untitled.metadata["author"] == "anonymous"


def test_damaged_but_complete_file_falls_back_to_pdfminer() -> None:
    doc = parse_pdf(_sample("017-unreadable-meta-data"))  # PDFium rejects its xref
    assert "Rotary Potentiometer" in _text(doc)
    assert any(b.kind == BlockKind.LIST_ITEM for b in doc.blocks)


def test_parallel_parsing_matches_serial() -> None:
    paths = [_sample(f) for f in ("004-pdflatex-4-pages", "011-google-doc-document")] * 3
    paths.append(_sample("026-latex-multicolumn"))
    serial = [parse_pdf(p) for p in paths]
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(parse_pdf, paths))
    assert [d.blocks for d in parallel] == [d.blocks for d in serial]


def test_text_layer_speed() -> None:
    started = time.monotonic()
    doc = parse_pdf(_sample("009-pdflatex-geotopo"), want_tables=False, ocr=False)
    assert time.monotonic() - started < TIME_BUDGET
    assert len(doc.blocks) > 1000
