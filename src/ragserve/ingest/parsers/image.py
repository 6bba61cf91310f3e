"""Images (PNG, JPEG, TIFF, BMP, GIF, WEBP): OCR text grouped into paragraphs.

``group_lines`` (OCR pieces -> lines -> paragraphs) also serves the PDF parser's scanned pages.

Boxes are in image pixels (one pixel counted as one point). Every frame of a multi-page TIFF is a
page (up to MAX_FRAMES); animated GIF and WEBP contribute their first frame only. Big images are
shrunk by the OCR engine itself (2000 px at most), with boxes mapped back to the original.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ragserve.ingest.parsers.ocr import (
    OcrItem,
    decode_image,
    height,
    join_lines,
    ocr_image,
    to_bgr,
    union,
)
from ragserve.ingest.types import Block, BlockKind, Box, ParsedDocument, ParseError

logger = logging.getLogger(__name__)

UNREADABLE = "The image cannot be read."
MAX_FRAMES = 50  # pages of a multi-page TIFF that are OCR'd


def group_lines(items: Sequence[OcrItem], scale: float = 1.0) -> list[tuple[str, Box]]:
    """OCR pieces -> paragraphs (text, box) from top to bottom; boxes are divided by ``scale``."""
    # 1. Pieces side by side on one text line become one line (left to right).
    lines: list[list[tuple[str, Box]]] = []
    for text, box, _ in sorted(items, key=lambda it: (it[1].top, it[1].x0)):
        h = height(box)
        for line in reversed(lines[-8:]):  # pieces come by their top: only recent lines qualify
            lb = union([b for _, b in line])
            overlap = min(lb.bottom, box.bottom) - max(lb.top, box.top)
            gap = max(box.x0 - lb.x1, lb.x0 - box.x1)  # horizontal distance, either side
            if overlap > 0.5 * min(h, height(lb)) and gap <= 1.5 * h:
                line.append((text, box))
                break
        else:
            lines.append([(text, box)])
    merged = [
        (join_lines([t for t, _ in sorted(ln, key=lambda p: p[1].x0)]), union([b for _, b in ln]))
        for ln in lines
    ]
    merged.sort(key=lambda lt: (lt[1].top, lt[1].x0))
    # 2. Lines right under each other, overlapping horizontally and of similar height: paragraph.
    paras: list[list[tuple[str, Box]]] = []
    for text, box in merged:
        h = height(box)
        for para in reversed(paras):
            last = para[-1][1]
            ratio = h / height(last)
            gap = box.top - last.bottom
            overlaps = min(last.x1, box.x1) > max(last.x0, box.x0)
            if overlaps and 0.67 <= ratio <= 1.5 and -0.3 * h <= gap <= 0.8 * h:
                para.append((text, box))
                break
        else:
            paras.append([(text, box)])
    out: list[tuple[str, Box]] = []
    for para in paras:
        b = union([bx for _, bx in para])
        box = Box(b.x0 / scale, b.top / scale, b.x1 / scale, b.bottom / scale)
        out.append((join_lines([t for t, _ in para]), box))
    return out


def _frames_pil(data: bytes) -> tuple[list[npt.NDArray[np.uint8]], dict[str, str]]:
    from PIL import Image, ImageSequence

    with Image.open(io.BytesIO(data)) as im:
        meta = {"format": str(im.format or ""), "width": str(im.width), "height": str(im.height)}
        multi = im.format == "TIFF" and getattr(im, "n_frames", 1) > 1
        source = ImageSequence.Iterator(im) if multi else [im]
        frames: list[npt.NDArray[np.uint8]] = []
        for frame in source:
            if len(frames) >= MAX_FRAMES:
                break
            frames.append(_pil_to_bgr(frame))
        if multi:
            meta["frames"] = str(getattr(im, "n_frames", 1))
    return frames, meta


def _pil_to_bgr(frame: Any) -> npt.NDArray[np.uint8]:
    if frame.mode not in ("L", "LA", "RGB", "RGBA", "I;16", "I"):
        alpha = "A" in frame.getbands() or "transparency" in frame.info
        frame = frame.convert("RGBA" if alpha else "RGB")
    arr = np.asarray(frame)
    if arr.ndim == 3 and arr.shape[2] >= 3:  # RGB(A) -> BGR(A)
        arr = np.concatenate([arr[:, :, 2::-1], arr[:, :, 3:]], axis=2)
    return to_bgr(arr)


def _decode(data: bytes) -> tuple[list[npt.NDArray[np.uint8]], dict[str, str]]:
    if not data:
        raise ParseError(UNREADABLE)
    try:
        return _frames_pil(data)
    except ImportError:
        pass
    except Exception as exc:  # Pillow raises many kinds for damaged files; try OpenCV next
        logger.debug("Pillow cannot read the image: %s", exc)
    try:
        img = decode_image(data)
    except ParseError:
        raise
    except Exception as exc:
        raise ParseError(UNREADABLE) from exc
    return [img], {"width": str(img.shape[1]), "height": str(img.shape[0])}


def parse_image(data: bytes) -> ParsedDocument:
    """OCR an image into TEXT blocks in reading order; an image without text gives no blocks."""
    frames, meta = _decode(data)
    if not frames:
        raise ParseError(UNREADABLE)
    blocks: list[Block] = []
    for page, frame in enumerate(frames, start=1):
        try:
            items = ocr_image(frame)
        except ParseError:
            raise
        except Exception as exc:  # an OCR engine failure must not look like a broken file
            logger.warning("OCR failed on page %d of an image: %s", page, exc)
            raise ParseError("Text recognition failed on this image.") from exc
        for text, box in group_lines(items):
            blocks.append(Block(kind=BlockKind.TEXT, text=text, page=page, box=box))
    return ParsedDocument(blocks=blocks, page_count=len(frames), metadata=meta)
