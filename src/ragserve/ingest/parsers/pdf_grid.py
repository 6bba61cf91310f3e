"""Ruled tables of a PDF page from PDFium's paths and characters, with pdfplumber's table finder.

pdfplumber finds ruled tables from a page's edges (lines, sides of rectangles, straight pieces of
paths), but to get them pdfminer interprets the whole page in Python first, which costs far more
than the table search itself, most of all on pages of vector drawings (a plot is thousands of path
segments). This module reads the same edges from PDFium's path objects, the way pdfminer and
pdfplumber make them, and runs pdfplumber's own grid search on them with its default settings. A
page where that finds no table with text in two or more rows and columns (the tables the PDF
parser keeps) has no table. The check errs towards finding one: it reads a superset of
pdfplumber's edges (straight within ``STRAIGHT`` points rather than exactly) and counts text
within ``SLACK`` points of a cell as in it.

Where the check finds a grid, ``grid_tables`` fills its cells with PDFium's characters in
pdfplumber's own way (``Table.extract``: a character belongs to the cell holding its centre), so
pdfminer never reads the page: on figure-heavy pages its Python content-stream interpreter cost
over a second a page. PDFium maps glyphs to text better than pdfminer (math fonts' minus signs
and relations, which pdfminer drops as ``(cid:n)`` or misreads), so such cells now read as the
page's text does.
"""

from __future__ import annotations

import ctypes
import itertools
from collections.abc import Callable, Sequence
from typing import Any

import pypdfium2.raw as pdfium_c  # type: ignore[import-untyped]

from ragserve.ingest.types import Box

Edge = dict[str, Any]  # a pdfplumber edge: x0, x1, top, bottom, width, height, orientation
Point = tuple[float, float]
Matrix = tuple[float, float, float, float, float, float]

MAX_OBJECTS = 5000  # page objects read; past that the check gives up (None)
MAX_SEGMENTS = 200_000  # path segments read; likewise
STRAIGHT = 0.01  # points: a piece this close to horizontal or vertical counts as straight
SLACK = 2.0  # points: text this close to a cell may be in it (PDFium's boxes are not pdfminer's)


def _matrix(obj: Any) -> Matrix:
    m = pdfium_c.FS_MATRIX()
    if not pdfium_c.FPDFPageObj_GetMatrix(obj.raw, ctypes.byref(m)):
        raise ValueError("no matrix")
    return (m.a, m.b, m.c, m.d, m.e, m.f)


def _then(m: Matrix, n: Matrix) -> Matrix:
    """The transform ``m`` followed by ``n``."""
    a, b, c, d, e, f = m
    a2, b2, c2, d2, e2, f2 = n
    return (
        a * a2 + b * c2,
        a * b2 + b * d2,
        c * a2 + d * c2,
        c * b2 + d * d2,
        e * a2 + f * c2 + e2,
        e * b2 + f * d2 + f2,
    )


def _subpaths(obj: Any, to_page: Matrix) -> list[tuple[list[Point], bool]]:
    """(points, has a curve) of each subpath, in page space; a Bézier curve adds its end only,
    and a closed subpath ends where it began (pdfminer's points)."""
    m = _matrix(obj)
    form = obj.container
    while form is not None:  # objects inside a form XObject are placed by the form's matrix
        m = _then(m, _matrix(form))
        form = form.container
    a, b, c, d, e, f = _then(m, to_page)
    x, y = ctypes.c_float(), ctypes.c_float()
    x_ref, y_ref = ctypes.byref(x), ctypes.byref(y)
    out: list[tuple[list[Point], bool]] = []
    points: list[Point] = []
    curves = 0
    for k in range(pdfium_c.FPDFPath_CountSegments(obj.raw)):
        segment = pdfium_c.FPDFPath_GetPathSegment(obj.raw, k)
        kind = pdfium_c.FPDFPathSegment_GetType(segment)
        if kind == pdfium_c.FPDF_SEGMENT_BEZIERTO:
            curves += 1
            if curves % 3:  # a control point; the third point of a curve is its end
                continue
        pdfium_c.FPDFPathSegment_GetPoint(segment, x_ref, y_ref)
        point = (a * x.value + c * y.value + e, b * x.value + d * y.value + f)
        if kind == pdfium_c.FPDF_SEGMENT_MOVETO:
            if points:
                out.append((points, curves > 0))
            points, curves = [point], 0
        else:
            points.append(point)
        if pdfium_c.FPDFPathSegment_GetClose(segment) and points[-1] != points[0]:
            points.append(points[0])
    if points:
        out.append((points, curves > 0))
    return out


def page_edges(page: Any, to_page: Callable[[float, float], Point]) -> list[Edge] | None:
    """pdfplumber's horizontal and vertical edges of a pypdfium2 page (or of its objects, as
    ``page.get_objects(max_depth=3)`` yields them), in the space of ``to_page`` (an affine map
    of PDF user space: to the displayed page); None when the page has too many objects to look
    at them all."""
    (e, f), (a, b), (c, d) = to_page(0, 0), to_page(1, 0), to_page(0, 1)
    matrix = (a - e, b - f, c - e, d - f, e, f)
    edges: list[Edge] = []
    segments = 0
    objects = page if isinstance(page, list) else page.get_objects(max_depth=3)
    for count, obj in enumerate(objects, start=1):
        if count > MAX_OBJECTS:
            return None
        if obj.type != pdfium_c.FPDF_PAGEOBJ_PATH:
            continue
        segments += max(0, pdfium_c.FPDFPath_CountSegments(obj.raw))
        if segments > MAX_SEGMENTS:
            return None
        try:
            subpaths = _subpaths(obj, matrix)
        except ValueError:
            return None
        for points, curved in subpaths:
            line = not curved and len(set(points)) == 2  # pdfplumber's "line": any direction
            for (x0, y0), (x1, y1) in itertools.pairwise(points):
                if abs(y1 - y0) <= STRAIGHT:
                    orientation = "h"
                elif line or abs(x1 - x0) <= STRAIGHT:  # a slanted line is a "v" edge
                    orientation = "v"
                else:
                    continue
                left, right, top, bottom = min(x0, x1), max(x0, x1), min(y0, y1), max(y0, y1)
                edges.append(
                    {
                        "x0": left,
                        "x1": right,
                        "top": top,
                        "bottom": bottom,
                        "doctop": top,
                        "width": right - left,
                        "height": bottom - top,
                        "orientation": orientation,
                        "object_type": "edge",
                    }
                )
    return edges


class _Edges:
    """As much of a pdfplumber page as its table finder reads with the "lines" strategies."""

    def __init__(self, edges: list[Edge]) -> None:
        self.edges = edges
        self.bbox = (0.0, 0.0, 0.0, 0.0)  # read for explicit lines only


def has_grid(edges: list[Edge], text: Sequence[Box]) -> bool:
    """Whether pdfplumber's table search finds a table with text (boxes ``text``) in two or more
    of its rows and of its columns: a table the PDF parser keeps."""
    from pdfplumber.table import TableFinder

    page: Any = _Edges(edges)
    try:
        tables = TableFinder(page).tables
    except Exception:  # odd geometry: let pdfplumber itself decide
        return True
    for table in tables:
        filled = [cell for cell in table.cells if _has_text(cell, text)]
        if len({cell[0] for cell in filled}) >= 2 and len({cell[1] for cell in filled}) >= 2:
            return True  # text in two columns (cell x0) and two rows (cell top)
    return False


def page_chars(
    tp: Any, to_box: Callable[[float, float, float, float], Box], turned: bool = False
) -> list[Edge]:
    """pdfplumber-style characters (text, x0, x1, top, bottom, upright) of a PDFium text page;
    ``to_box`` maps a box in PDF user space (left, bottom, right, top) to the page's space, a
    quarter turn when ``turned`` (pages shown at 90 or 270 degrees: upright is as shown).
    Characters PDFium adds (spaces and line breaks it infers) are left out, as pdfminer has none.
    """
    rect, matrix, chars = pdfium_c.FS_RECTF(), pdfium_c.FS_MATRIX(), []
    for i in range(max(0, int(pdfium_c.FPDFText_CountChars(tp)))):
        if pdfium_c.FPDFText_IsGenerated(tp, i) == 1:
            continue
        text = chr(min(int(pdfium_c.FPDFText_GetUnicode(tp, i)), 0x10FFFF))
        if text in "\r\n" or not pdfium_c.FPDFText_GetLooseCharBox(tp, i, ctypes.byref(rect)):
            continue
        box = to_box(rect.left, rect.bottom, rect.right, rect.top)
        pdfium_c.FPDFText_GetMatrix(tp, i, ctypes.byref(matrix))
        across = (matrix.a, matrix.d) if turned else (matrix.b, matrix.c)
        upright = abs(across[0]) < 1e-6 and abs(across[1]) < 1e-6
        chars.append(
            {
                "text": text,
                "x0": box.x0,
                "x1": box.x1,
                "top": box.top,
                "bottom": box.bottom,
                "doctop": box.top,
                "upright": upright,
            }
        )
    return chars


def grid_tables(edges: list[Edge], chars: list[Edge]) -> list[tuple[Box, list[list[str | None]]]]:
    """(box, rows of cell texts) of each table pdfplumber's finder makes of ``edges``, its
    cells filled from ``chars`` by pdfplumber's ``Table.extract``."""
    from pdfplumber.table import TableFinder

    page: Any = _Edges(edges)
    page.chars = chars
    found = []
    for table in TableFinder(page).tables:
        x0, top, x1, bottom = (float(v) for v in table.bbox)
        found.append((Box(x0, top, x1, bottom), table.extract()))
    return found


def _has_text(cell: tuple[float, float, float, float], text: Sequence[Box]) -> bool:
    x0, top, x1, bottom = cell
    return any(
        b.x0 < x1 + SLACK
        and b.x1 > x0 - SLACK
        and b.top < bottom + SLACK
        and b.bottom > top - SLACK
        for b in text
    )
