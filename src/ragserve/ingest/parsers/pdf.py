"""PDF: text, positions, ruled tables and page images with pypdfium2; OCR for scans.

Tables: pdfplumber's table finder on PDFium's ruling lines and characters (pdf_grid); pdfplumber
itself (pdfminer) only where PDFium cannot be used (files it refuses, pages too busy to read).

Boxes are in PDF points, origin at the top-left of the page as displayed (crop box and rotation
applied). PDFium is not thread-safe: every pypdfium2 call in this module runs under
``PDFIUM_LOCK``, one page at a time; OCR, PNG encoding and table finding run outside it.
"""

from __future__ import annotations

import ctypes
import io
import logging
import re
import statistics
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pypdfium2 as pdfium  # type: ignore[import-untyped]
import pypdfium2.raw as pdfium_c  # type: ignore[import-untyped]

from ragserve.ingest.parsers.image import group_lines
from ragserve.ingest.parsers.ocr import (
    Table,
    TextLine,
    encode_png,
    mark_headings,
    mark_outline,
    merge_fragments,
    ocr_image,
    page_blocks,
    union,
)
from ragserve.ingest.parsers.pdf_grid import Edge, grid_tables, has_grid, page_chars, page_edges
from ragserve.ingest.types import Block, BlockKind, Box, ParsedDocument, ParseError

logger = logging.getLogger(__name__)
# pdfminer (through pdfplumber) logs every odd font it meets; those are not our warnings.
logging.getLogger("pdfminer").setLevel(logging.ERROR)

PDFIUM_LOCK = threading.Lock()
PASSWORD_MESSAGE = "The PDF is password-protected; remove the password and upload it again."  # noqa: S105
UNREADABLE = "The file is not a readable PDF: {}"
MAX_RENDER_SIDE = 4096  # pixels; larger pages are rendered at a lower resolution
MAX_OBJECTS = 5000  # page objects looked at when deciding about OCR and tables

# Control characters, lone surrogates, replacement characters and private-use glyphs.
_STRIP = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff\ufffd\uffff\ue000-\uf8ff\U000f0000-\U0010ffff]"
)
_SPACES = re.compile(r"[\s\u00a0]+")
_BOLD_FONT = re.compile(r"bold|black|heavy|demi|cmbx|cmssbx|\bbd\b", re.IGNORECASE)
_CID = re.compile(r"\(cid:\d+\)")  # a glyph pdfminer cannot map to text
_TITLE_JUNK = re.compile(r"^(untitled.*|.*\.(docx?|pdf|tex|odt|rtf|pptx?))$", re.IGNORECASE)

Ranges = Sequence[tuple[int, int]] | None
Outline = list[tuple[int, str, int]]  # (level, title, page) of each bookmark


class _Damaged(Exception):
    """PDFium cannot load a file that looks like a PDF."""


@dataclass
class _Page:
    number: int
    lines: list[TextLine] = field(default_factory=list)
    table_hint: bool = False  # ruling lines, too many to read here: ask pdfplumber for tables
    edges: list[Edge] | None = None  # ruling lines that form a grid with text
    chars: list[Edge] = field(default_factory=list)  # then the page's characters, for its cells
    needs_ocr: bool = False
    image: npt.NDArray[np.uint8] | None = None  # BGR rendering, ``scale`` pixels per point
    scale: float = 1.0
    ocr_blocks: list[tuple[str, Box]] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)


@dataclass(frozen=True)
class _Geometry:
    """Maps PDF user space (origin bottom-left, unrotated) to the displayed page (top-left)."""

    left: float
    bottom: float
    width: float
    height: float
    rotation: int

    @property
    def size(self) -> tuple[float, float]:
        turned = self.rotation in (90, 270)
        return (self.height, self.width) if turned else (self.width, self.height)

    def point(self, x: float, y: float) -> tuple[float, float]:
        ux, uy, w, h = x - self.left, self.bottom + self.height - y, self.width, self.height
        if self.rotation == 90:
            return h - uy, ux
        if self.rotation == 180:
            return w - ux, h - uy
        if self.rotation == 270:
            return uy, w - ux
        return ux, uy

    def box(self, left: float, bottom: float, right: float, top: float) -> Box:
        (ax, ay), (bx, by), (w, h) = self.point(left, top), self.point(right, bottom), self.size
        x0, x1 = sorted((min(max(ax, 0.0), w), min(max(bx, 0.0), w)))
        y0, y1 = sorted((min(max(ay, 0.0), h), min(max(by, 0.0), h)))
        return Box(x0, y0, x1, y1)


def _clean(text: str) -> str:
    return _SPACES.sub(" ", _STRIP.sub("", text.replace("\ufffe", ""))).strip()


def _open(raw: bytes) -> Any:
    try:
        return pdfium.PdfDocument(raw)
    except pdfium.PdfiumError as exc:
        code = getattr(exc, "err_code", None)
        if code == pdfium_c.FPDF_ERR_PASSWORD:
            raise ParseError(PASSWORD_MESSAGE) from exc
        if code == pdfium_c.FPDF_ERR_SECURITY:
            raise ParseError(UNREADABLE.format("its encryption is not supported.")) from exc
        if b"%PDF" not in raw[:1024]:
            raise ParseError(UNREADABLE.format("it does not start like a PDF.")) from exc
        if code == pdfium_c.FPDF_ERR_SUCCESS:
            raise ParseError(UNREADABLE.format("it has no pages.")) from exc
        raise _Damaged from exc


def _char_style(tp: Any, i: int, buf: Any) -> tuple[float, bool]:
    """(font size in points, bold) of character ``i``."""
    matrix, flags = pdfium_c.FS_MATRIX(), ctypes.c_int()
    size = float(pdfium_c.FPDFText_GetFontSize(tp, i))
    if pdfium_c.FPDFText_GetMatrix(tp, i, ctypes.byref(matrix)):  # size 1 scaled up is common
        size *= abs(matrix.a * matrix.d - matrix.b * matrix.c) ** 0.5 or 1.0
    pdfium_c.FPDFText_GetFontInfo(tp, i, buf, len(buf), ctypes.byref(flags))
    name = bytes(buf.value).decode("latin-1")
    return size, pdfium_c.FPDFText_GetFontWeight(tp, i) >= 600 or bool(_BOLD_FONT.search(name))


def _text_lines(tp: Any, geo: _Geometry) -> list[TextLine]:
    n = int(pdfium_c.FPDFText_CountChars(tp))
    if n <= 0:
        return []
    # One character at a time: text index i is char index i (FPDFText_GetText may differ, and
    # is limited to UCS-2).
    unicode = pdfium_c.FPDFText_GetUnicode
    text = "".join([chr(min(unicode(tp, i), 0x10FFFF)) for i in range(n)])
    corners = left, top, right, bottom = [ctypes.c_double() for _ in range(4)]
    font_buf, lines = ctypes.create_string_buffer(128), []
    for match in re.finditer(r"[^\r\n]+", text):  # PDFium ends every line with CR LF
        start, end = match.span()
        idx = [i for i in range(start, end) if not text[i].isspace()]
        clean, boxes = _clean(match.group()), []
        for j in range(pdfium_c.FPDFText_CountRects(tp, start, end - start) if idx else 0):
            if pdfium_c.FPDFText_GetRect(tp, j, *(ctypes.byref(v) for v in corners)):
                boxes.append(geo.box(left.value, bottom.value, right.value, top.value))
        if not clean or not boxes:
            continue
        sample = sorted({idx[0], idx[len(idx) // 2], idx[-1]})  # first, middle, last character
        styles = [_char_style(tp, i, font_buf) for i in sample]
        box = union(boxes)
        size = statistics.median(s for s, _ in styles) or (box.bottom - box.top)
        origins = []
        for i in (idx[0], idx[-1]):
            pdfium_c.FPDFText_GetCharOrigin(tp, i, ctypes.byref(left), ctypes.byref(top))
            origins.append(geo.point(left.value, top.value))
        (x, base0), (_, base1) = origins
        bold = all(b for _, b in styles)
        lines.append(TextLine(clean, box, round(size, 1), bold, base0, base1, max(x, box.x0)))
    return lines


def _is_box(obj: Any) -> bool:
    """A path of a few straight segments (a rectangle), not a curve or a drawing."""
    n = pdfium_c.FPDFPath_CountSegments(obj.raw)
    if not 0 < n <= 6:
        return False
    segments = (pdfium_c.FPDFPath_GetPathSegment(obj.raw, k) for k in range(n))
    return all(
        pdfium_c.FPDFPathSegment_GetType(s) != pdfium_c.FPDF_SEGMENT_BEZIERTO for s in segments
    )


def _scan_objects(page: Any, geo: _Geometry, seen: list[Any]) -> tuple[bool, int, float]:
    """(ruled like a table, number of objects, area of images and forms) of a page; the objects
    looked at (up to ``MAX_OBJECTS`` + 1) are added to ``seen``, for reading ruling lines."""
    rules = [0, 0]  # horizontal and vertical ruling lines; a box counts as two of each
    total, area = 0, 0.0
    kinds = (pdfium_c.FPDF_PAGEOBJ_PATH, pdfium_c.FPDF_PAGEOBJ_IMAGE, pdfium_c.FPDF_PAGEOBJ_FORM)
    for obj in page.get_objects(max_depth=3):
        total += 1
        if total <= MAX_OBJECTS + 1:
            seen.append(obj)
        if total > MAX_OBJECTS or obj.type not in kinds or obj.level > 0:
            continue
        try:
            b = geo.box(*obj.get_bounds())
        except pdfium.PdfiumError:
            continue
        w, h = b.x1 - b.x0, b.bottom - b.top
        if obj.type != pdfium_c.FPDF_PAGEOBJ_PATH:
            area += w * h
        elif w >= 10 and h >= 10 and _is_box(obj):
            rules = [rules[0] + 2, rules[1] + 2]
        elif max(w, h) >= 10 and min(w, h) < 10:
            rules[int(h > w)] += 1
    return min(rules) >= 3, min(total, MAX_OBJECTS), area


def _render(page: Any, geo: _Geometry, dpi: int) -> tuple[npt.NDArray[np.uint8], float]:
    scale = max(36, min(dpi, 600)) / 72.0
    scale = min(scale, MAX_RENDER_SIDE / max(*geo.size, 1.0))
    bitmap = page.render(scale=scale)  # BGR
    try:
        arr = np.array(bitmap.to_numpy(), dtype=np.uint8, copy=True)
    finally:
        bitmap.close()
    arr = np.repeat(arr[:, :, None], 3, axis=2) if arr.ndim == 2 else arr[:, :, :3]
    return np.ascontiguousarray(arr), scale


def _extract_page(doc: Any, number: int, opts: dict[str, Any]) -> _Page:
    out, page = _Page(number), doc[number - 1]
    try:
        left, bottom, right, top = (float(v) for v in page.get_bbox())
        geo = _Geometry(left, bottom, right - left, top - bottom, page.get_rotation() % 360)
        tp = page.get_textpage()
        try:
            out.lines = merge_fragments(_text_lines(tp, geo))
            chars = sum(len(ln.text.replace(" ", "")) for ln in out.lines)
            objects: list[Any] = []
            ruled, total, covered = _scan_objects(page, geo, objects)
            if ruled and chars > 0 and opts["tables"]:
                edges = page_edges(objects, geo.point)
                if edges is None:  # too busy to read here: pdfplumber decides
                    out.table_hint = True
                elif has_grid(edges, [ln.box for ln in out.lines]):
                    out.edges, out.chars = edges, page_chars(tp, geo.box, geo.rotation in (90, 270))
        finally:
            tp.close()
        scanned = chars < 20 and covered >= 0.25 * geo.size[0] * geo.size[1]
        out.needs_ocr = (chars == 0 and total > 0) or scanned
        if opts["images"] or (opts["ocr"] and out.needs_ocr):
            out.image, out.scale = _render(page, geo, opts["dpi"])
    finally:
        page.close()
    return out


def _kept(found: list[tuple[Box, list[list[str | None]]]]) -> list[Table]:
    """The tables with text in two or more rows and columns, their empty rows and columns cut."""
    kept: list[Table] = []
    for box, raw in found:
        rows = [tuple(_clean(_CID.sub("", c or "")) for c in r) for r in raw]
        rows = [r for r in rows if any(r)]
        width = max(map(len, rows), default=0)
        keep = [j for j in range(width) if any(j < len(r) and r[j] for r in rows)]
        if len(rows) >= 2 and len(keep) >= 2:  # else a frame around text, not a table
            kept.append((box, tuple(tuple(r[j] if j < len(r) else "" for j in keep) for r in rows)))
    return kept


def _page_tables(ppage: Any) -> list[Table]:
    dx, dy, found = float(ppage.bbox[0]), float(ppage.bbox[1]), []
    for table in ppage.find_tables():
        x0, top, x1, bottom = (float(v) for v in table.bbox)
        found.append((Box(x0 - dx, top - dy, x1 - dx, bottom - dy), table.extract()))
    return _kept(found)


def _add_tables(plumber_pdf: Any, pages: list[_Page], only_hinted: bool) -> None:
    for page in pages:
        try:
            if page.table_hint or not only_hinted:
                page.tables = _page_tables(plumber_pdf.pages[page.number - 1])
        except Exception as exc:  # pdfminer trips over odd content; keep the text anyway
            logger.warning("Table detection failed on page %d: %s", page.number, exc)


def _parse_pdfium(raw: bytes, pages: Ranges, opts: dict[str, Any]) -> ParsedDocument:
    with PDFIUM_LOCK:
        doc = _open(raw)
    try:
        with PDFIUM_LOCK:
            parsed = ParsedDocument(page_count=len(doc))
            names = {"CreationDate": "creation_date", "ModDate": "mod_date"}
            for key, value in doc.get_metadata_dict(skip_empty=True).items():
                if _clean(value):
                    parsed.metadata[names.get(key, key.lower())] = _clean(value)
            outline: Outline = []
            for mark in doc.get_toc(max_depth=4):
                dest = mark.get_dest()
                index = dest.get_index() if dest is not None else None
                if index is not None and len(outline) < 2000:
                    outline.append((int(mark.level), _clean(mark.get_title()), int(index) + 1))
        done: list[_Page] = []
        for number in _select(pages, parsed.page_count):
            try:
                with PDFIUM_LOCK:
                    page = _extract_page(doc, number, opts)
            except pdfium.PdfiumError as exc:
                logger.warning("Skipping unreadable page %d of a PDF: %s", number, exc)
                continue
            if page.edges is not None:  # a grid with text: its tables, from PDFium's characters
                try:
                    page.tables = _kept(grid_tables(page.edges, page.chars))
                except Exception as exc:  # odd geometry: pdfplumber decides
                    logger.warning("Table finding failed on page %d: %s", number, exc)
                    page.table_hint = True
            page.edges, page.chars = None, []
            if page.image is not None and opts["ocr"] and page.needs_ocr:
                try:
                    page.ocr_blocks = group_lines(ocr_image(page.image), scale=page.scale)
                except Exception as exc:  # OCR trouble costs that page's scanned text only
                    logger.warning("OCR failed on page %d of a PDF: %s", number, exc)
            if page.image is not None and opts["images"]:
                parsed.page_images[number] = encode_png(page.image)
            page.image = None
            done.append(page)
    finally:
        with PDFIUM_LOCK:
            doc.close()
    if opts["tables"] and any(p.table_hint for p in done):
        import pdfplumber

        try:
            with pdfplumber.open(io.BytesIO(raw)) as plumber_pdf:
                _add_tables(plumber_pdf, done, only_hinted=True)
        except Exception as exc:  # pdfminer cannot read it: the text is still good
            logger.warning("Table detection failed on a PDF: %s", exc)
    return _finish(parsed, done, outline)


def _parse_pdfminer(raw: bytes, pages: Ranges, opts: dict[str, Any]) -> ParsedDocument:
    """pdfminer (through pdfplumber) for complete files PDFium refuses, e.g. odd xref tables."""
    import pdfplumber

    with pdfplumber.open(io.BytesIO(raw)) as pdf:
        parsed, done = ParsedDocument(page_count=len(pdf.pages)), []
        for number in _select(pages, parsed.page_count):
            ppage, page = pdf.pages[number - 1], _Page(number)
            dx, dy = float(ppage.bbox[0]), float(ppage.bbox[1])
            for item in ppage.extract_text_lines(return_chars=True):
                chars, text = item["chars"] or [{}], _clean(item["text"])
                size = float(statistics.median(float(c.get("size", 0)) for c in chars))
                bold = all(_BOLD_FONT.search(str(c.get("fontname", ""))) for c in chars)
                box = Box(item["x0"] - dx, item["top"] - dy, item["x1"] - dx, item["bottom"] - dy)
                if text:
                    page.lines.append(
                        TextLine(text, box, size, bold, box.bottom, box.bottom, box.x0)
                    )
            done.append(page)
        if opts["tables"]:
            _add_tables(pdf, done, only_hinted=False)
    if parsed.page_count == 0:
        raise ParseError(UNREADABLE.format("it has no pages."))
    return _finish(parsed, done, [])


def _select(pages: Ranges, count: int) -> list[int]:
    if pages is None:
        return list(range(1, count + 1))
    return sorted({n for a, b in pages for n in range(max(1, int(a)), min(int(b), count) + 1)})


def _finish(parsed: ParsedDocument, pages: list[_Page], outline: Outline) -> ParsedDocument:
    mark_headings([p.lines for p in pages])
    mark_outline({p.number: p.lines for p in pages}, outline)
    for page in pages:
        if page.ocr_blocks:
            parsed.blocks += [Block(BlockKind.TEXT, t, page.number, b) for t, b in page.ocr_blocks]
        else:
            parsed.blocks += page_blocks(page.number, page.lines, page.tables)
    title = parsed.metadata.get("title", "").removeprefix("Microsoft Word - ").strip()
    if not title or _TITLE_JUNK.match(title):
        heads = [b for b in parsed.blocks if b.kind == BlockKind.HEADING]
        title = min(heads, key=lambda b: b.level).text if heads else ""
    parsed.title = title[:300]
    return parsed


def parse_pdf(
    data: bytes | Path,
    *,
    pages: Sequence[tuple[int, int]] | None = None,
    want_tables: bool = True,
    want_page_images: bool = False,
    ocr: bool = True,
    image_dpi: int = 144,
) -> ParsedDocument:
    """Parse a PDF into blocks in reading order.

    ``pages``: 1-based inclusive page ranges to parse (all when None); ``page_count`` is always
    the document's total. Scanned pages are OCR'd when ``ocr``. Raises ParseError, with a message
    for the user, when the file is password-protected or not a readable PDF.
    """
    try:
        raw = data.read_bytes() if isinstance(data, Path) else bytes(data)
    except OSError as exc:
        raise ParseError(UNREADABLE.format("the file cannot be read.")) from exc
    if not raw:
        raise ParseError(UNREADABLE.format("the file is empty."))
    opts = {"tables": want_tables, "images": want_page_images, "ocr": ocr, "dpi": image_dpi}
    try:
        try:
            return _parse_pdfium(raw, pages, opts)
        except _Damaged as exc:
            damaged = ParseError(UNREADABLE.format("the file is damaged or incomplete."))
            if raw.lstrip()[:5] != b"%PDF-" or b"%%EOF" not in raw[-2048:]:
                raise damaged from exc  # cut short: don't guess at the rest
            try:
                return _parse_pdfminer(raw, pages, opts)
            except Exception as fallback_exc:
                raise damaged from fallback_exc
    except ParseError:
        raise
    except Exception as exc:  # never let a library error (or a bug) escape raw
        logger.warning("PDF parsing failed", exc_info=True)
        reason = (str(exc).splitlines() or [""])[0][:160] or type(exc).__name__
        raise ParseError(UNREADABLE.format(reason)) from exc
