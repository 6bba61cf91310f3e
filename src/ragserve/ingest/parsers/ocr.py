"""Offline OCR with rapidocr-onnxruntime (its models ship inside the wheel; nothing is downloaded).

Also the text layout the PDF and image parsers share: lines of a PDF's text layer -> paragraphs,
headings and list items, tables in their place, and joining the lines of a paragraph.
"""

from __future__ import annotations

import io
import itertools
import logging
import re
import statistics
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ragserve.ingest.types import Block, BlockKind, Box, ParseError

logger = logging.getLogger(__name__)

OcrItem = tuple[str, Box, float]
Table = tuple[Box, tuple[tuple[str, ...], ...]]  # where, and the rows of cells

_engine: Any = None
_engine_lock = threading.Lock()
# One recognition at a time: onnxruntime already uses every core for one image, and the engine
# object keeps per-call state (thresholds) on itself.
_run_lock = threading.Lock()

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")


def _get_engine() -> Any:
    global _engine
    with _engine_lock:
        if _engine is None:
            from rapidocr_onnxruntime import RapidOCR  # type: ignore[import-untyped]

            # "max": only ever shrink the image for detection; the default ("min", 736) blows
            # small images up several times, which is slow and gains nothing.
            _engine = RapidOCR(det_limit_type="max", print_verbose=False)
        return _engine


def decode_image(data: bytes) -> npt.NDArray[np.uint8]:
    """Encoded image bytes -> BGR uint8 array (first frame). ParseError if it cannot be read."""
    import cv2

    arr = np.frombuffer(data, dtype=np.uint8) if data else np.zeros(0, np.uint8)
    img = cv2.imdecode(arr, cv2.IMREAD_UNCHANGED) if arr.size else None
    if img is None:
        raise ParseError("The image cannot be read.")
    return to_bgr(np.asarray(img))


def encode_png(bgr: npt.NDArray[np.uint8]) -> bytes:
    """A BGR image as PNG bytes (Pillow comes with rapidocr-onnxruntime)."""
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(bgr[:, :, ::-1])).save(out, format="PNG")
    return out.getvalue()


def to_bgr(img: npt.NDArray[Any]) -> npt.NDArray[np.uint8]:
    """Any gray / gray+alpha / BGR / BGRA array (8 or 16 bit) -> 3-channel BGR uint8.

    Transparent pixels are put on white, so dark text on a transparent background stays legible.
    """
    if img.dtype != np.uint8:  # 16-bit, int32 or float (0..1) pixels
        top = float(img.max()) if img.size else 0.0
        factor = 255.0 / top if top > 255 else 255.0 if img.dtype.kind == "f" and top <= 1 else 1.0
        img = (img.astype(np.float32) * factor).clip(0, 255).astype(np.uint8)
    if img.ndim == 2:
        img = img[:, :, None]
    if img.ndim != 3 or img.shape[2] not in (1, 2, 3, 4):
        raise ParseError("The image cannot be read.")
    channels = img.shape[2]
    if channels in (2, 4):
        alpha = img[:, :, -1:].astype(np.float32) / 255.0
        color = img[:, :, :-1].astype(np.float32)
        img = (color * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    return np.ascontiguousarray(img, dtype=np.uint8)


def ocr_image(image: npt.NDArray[Any] | bytes) -> list[OcrItem]:
    """Recognise text in an image: (text, box in image pixels, confidence) per detected piece."""
    img = decode_image(image) if isinstance(image, bytes) else to_bgr(image)
    if img.shape[0] < 4 or img.shape[1] < 4:
        return []
    engine = _get_engine()
    with _run_lock:
        result, _ = engine(img)
    items: list[OcrItem] = []
    for points, text, score in result or ():
        text = str(text).strip()
        if not text:
            continue
        xs = [float(p[0]) for p in points]
        ys = [float(p[1]) for p in points]
        items.append((text, Box(min(xs), min(ys), max(xs), max(ys)), float(score)))
    return items


def join_lines(lines: Sequence[str]) -> str:
    """Join the lines of one paragraph: a space between words, nothing between CJK characters."""
    out = ""
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        if not out:
            out = line
        elif out.endswith("-") or (_CJK.match(out[-1]) and _CJK.match(line[0])):
            out += line
        else:
            out += " " + line
    return out


def union(boxes: Sequence[Box]) -> Box:
    return Box(
        min(b.x0 for b in boxes),
        min(b.top for b in boxes),
        max(b.x1 for b in boxes),
        max(b.bottom for b in boxes),
    )


def height(box: Box) -> float:
    return max(box.bottom - box.top, 1.0)


_NUMBER = re.compile(r"[-+(]?[\d.,%/:\s]+\)?")
BULLET = re.compile(r"^[•◦▪▫‣⁃●○■□►▸➢*·–-]\s")


@dataclass
class TextLine:
    """One line of a PDF's text layer, in points (top-down)."""

    text: str
    box: Box
    size: float  # font size
    bold: bool = False
    base0: float = 0.0  # baseline of the first and of the last character
    base1: float = 0.0
    start: float = 0.0  # x of the first character (the box may span a hyphenated line break)
    level: int = 0  # heading level, 0 = not a heading


def merge_fragments(lines: Sequence[TextLine]) -> list[TextLine]:
    """Glue pieces of one visual line (sub/superscripts, inline formulas) back to their line."""
    out: list[TextLine] = []
    for ln in lines:
        prev = out[-1] if out else None
        if prev is not None:
            a, b = prev.box, ln.box
            overlap = min(a.bottom, b.bottom) - max(a.top, b.top)
            small = min(height(a), height(b))
            if overlap > 0.4 * small and -1.0 <= b.x0 - a.x1 <= 2 * max(prev.size, ln.size, 1):
                main = prev if prev.size >= ln.size else ln
                text, box = join_lines([prev.text, ln.text]), union([a, b])
                out[-1] = TextLine(
                    text,
                    box,
                    main.size,
                    prev.bold and ln.bold,
                    prev.base0,
                    ln.base1 if main is ln else prev.base1,
                    prev.start,
                )
                continue
        out.append(ln)
    return out


def _wordy(text: str) -> bool:
    return len(text) <= 150 and any(c.isalpha() for c in text)


def mark_headings(pages: Sequence[Sequence[TextLine]]) -> None:
    """Mark lines set larger than the body text (levels 1-3 by size) or short, bold and alone."""
    weights: dict[float, int] = {}
    for ln in (ln for lines in pages for ln in lines):
        weights[round(ln.size * 2) / 2] = weights.get(round(ln.size * 2) / 2, 0) + len(ln.text)
    if not weights:
        return
    body = max(weights, key=lambda k: weights[k])

    def big(ln: TextLine) -> bool:
        return _wordy(ln.text) and ln.size >= body * 1.15 and ln.size - body >= 1.0

    sizes = sorted({round(ln.size) for lines in pages for ln in lines if big(ln)}, reverse=True)
    rank = {s: min(i + 1, 3) for i, s in enumerate(sizes)}
    for lines in pages:
        for i, ln in enumerate(lines):
            if big(ln):
                ln.level = rank[round(ln.size)]
            elif ln.bold and abs(ln.size - body) <= 1.0 and len(ln.text) <= 80:
                near = [lines[j] for j in (i - 1, i + 1) if 0 <= j < len(lines)]
                alone = not any(n.bold and abs(n.size - ln.size) < 0.5 for n in near)
                if alone and ln.text[-1] not in ".,;" and _wordy(ln.text):
                    ln.level = min(len(sizes) + 1, 3)


def line_pitch(lines: Sequence[TextLine]) -> float:
    """The usual baseline distance between lines of the same size on a page (0 if unknown)."""
    pitches = [
        b.base0 - a.base1
        for a, b in itertools.pairwise(lines)
        if a.size == b.size and 0 < b.base0 - a.base1 < 3 * max(a.size, 1.0)
    ]
    return statistics.median(pitches) if pitches else 0.0


def _joins(para: list[TextLine], cur: TextLine, pitch: float) -> bool:
    prev = para[-1]
    size = max(prev.size, cur.size, 1.0)
    if prev.level != cur.level or prev.bold != cur.bold:
        return False
    if abs(prev.size - cur.size) > max(1.0, 0.15 * size) or BULLET.match(cur.text):
        return False
    if min(prev.box.x1, cur.box.x1) <= max(prev.box.x0, cur.box.x0):
        return False  # no horizontal overlap: another column
    step = cur.base0 - prev.base1
    if not 0 < step <= max(1.3 * size, min(1.15 * pitch, 2.2 * size)):
        return False
    if len(para) > 1 and cur.start < min(ln.box.x0 for ln in para[1:]) - 0.6 * size:
        return False  # starts left of the paragraph's body: a new paragraph
    # A first-line indent starts a paragraph (but not a list item's hanging indent).
    return cur.start - prev.box.x0 <= 0.6 * size or bool(BULLET.match(para[0].text))


def paragraphs(lines: Sequence[TextLine], pitch: float) -> list[list[TextLine]]:
    """Consecutive lines close below each other, of one size and style: one paragraph."""
    paras: list[list[TextLine]] = []
    for ln in lines:
        if paras and _joins(paras[-1], ln, pitch):
            paras[-1].append(ln)
        else:
            paras.append([ln])
    return paras


def _norm(text: str) -> str:
    return re.sub(r"[\W_]+", " ", text).strip().lower()


def mark_outline(
    pages: Mapping[int, Sequence[TextLine]], outline: Sequence[tuple[int, str, int]]
) -> None:
    """The line carrying a bookmark's (level, title, page) becomes a heading of its level."""
    for level, title, number in outline:
        want = _norm(title)
        found = [
            ln
            for ln in (pages.get(number, ()) if want else ())
            if _norm(ln.text).endswith(want) and len(_norm(ln.text)) - len(want) <= 8
        ]
        if found:  # the exact title, else the largest (a running header repeats it small)
            best = max(found, key=lambda ln: (_norm(ln.text) == want, ln.size))
            best.level = min(level + 1, 3)


def line_blocks(lines: Sequence[TextLine], page: int, pitch: float) -> list[Block]:
    """Paragraphs of text lines as HEADING, LIST_ITEM or TEXT blocks."""
    blocks = []
    for para in paragraphs(lines, pitch):
        head, kind = para[0], BlockKind.TEXT
        if head.level:
            kind = BlockKind.HEADING
        elif BULLET.match(head.text):
            kind = BlockKind.LIST_ITEM
        text, box = join_lines([ln.text for ln in para]), union([ln.box for ln in para])
        blocks.append(Block(kind, text, page, box, level=head.level))
    return blocks


def table_block(table: Table, page: int) -> Block:
    box, rows = table
    first = [c for c in rows[0] if c]  # a header row: mostly filled, and not with numbers
    header = len(first) * 2 >= len(rows[0]) and not any(_NUMBER.fullmatch(c) for c in first)
    text = "\n".join(" | ".join(r) for r in rows)
    return Block(BlockKind.TABLE, text, page, box, rows=rows, has_header=header)


def page_blocks(page: int, lines: Sequence[TextLine], tables: Sequence[Table]) -> list[Block]:
    """A page's blocks in reading order; a table takes the place of its lines' text."""
    pitch, blocks, run, shown = line_pitch(lines), list[Block](), list[TextLine](), list[int]()
    for ln in lines:
        cx, cy = (ln.box.x0 + ln.box.x1) / 2, (ln.box.top + ln.box.bottom) / 2
        hits = [k for k, (b, _) in enumerate(tables) if b.x0 <= cx <= b.x1 and b.top <= cy]
        hits = [k for k in hits if cy <= tables[k][0].bottom]
        if not hits:
            run.append(ln)
        elif hits[0] not in shown:
            blocks += [*line_blocks(run, page, pitch), table_block(tables[hits[0]], page)]
            run, shown = [], [*shown, hits[0]]
    blocks += line_blocks(run, page, pitch)
    return blocks + [table_block(t, page) for k, t in enumerate(tables) if k not in shown]
