from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from ragserve.ingest.parsers.image import group_lines, parse_image
from ragserve.ingest.parsers.ocr import ocr_image
from ragserve.ingest.types import BlockKind, Box, ParseError


def _text_image(lines: list[str], *, width: int = 560, color: bool = True) -> np.ndarray:
    """White BGR (or gray) picture with black text lines, 60 px apart."""
    img = np.full((40 + 60 * len(lines), width, 3), 255, np.uint8)
    for i, line in enumerate(lines):
        cv2.putText(img, line, (15, 50 + 60 * i), cv2.FONT_HERSHEY_SIMPLEX, 1.3, (0, 0, 0), 3)
    return img if color else cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)


def _encode(img: np.ndarray, ext: str) -> bytes:
    ok, buf = cv2.imencode(ext, img)
    assert ok
    return buf.tobytes()


def _pil_bytes(frames: list[np.ndarray], fmt: str) -> bytes:
    pics = [Image.fromarray(cv2.cvtColor(f, cv2.COLOR_BGR2RGB)) for f in frames]
    out = io.BytesIO()
    pics[0].save(out, format=fmt, save_all=len(pics) > 1, append_images=pics[1:])
    return out.getvalue()


def test_ocr_image_recovers_words_with_boxes() -> None:
    img = _text_image(["Quick brown fox", "jumps over"])
    items = ocr_image(img)
    text = " ".join(t for t, _, _ in items).lower()
    assert "quick" in text and "brown" in text and "jumps" in text
    for _, box, score in items:
        assert 0 <= box.x0 < box.x1 <= img.shape[1] and 0 <= box.top < box.bottom <= img.shape[0]
        assert 0 < score <= 1
    assert ocr_image(_encode(img, ".png")) == items  # encoded bytes work the same


def test_png_text_becomes_text_blocks() -> None:
    doc = parse_image(_encode(_text_image(["Meeting notes", "Budget approved"]), ".png"))
    assert doc.page_count == 1
    assert doc.blocks and all(b.kind == BlockKind.TEXT and b.page == 1 for b in doc.blocks)
    text = " ".join(b.text for b in doc.blocks).lower()
    assert "meeting" in text and "budget" in text
    assert text.index("meeting") < text.index("budget")  # reading order
    assert doc.metadata["format"] == "PNG" and doc.metadata["width"] == "560"


def test_transparent_png_with_dark_text() -> None:
    gray = _text_image(["Transparent label"], color=False)
    rgba = np.zeros((*gray.shape, 4), np.uint8)  # black everywhere, visible only as the text
    rgba[:, :, 3] = 255 - gray
    doc = parse_image(_encode(rgba, ".png"))
    assert "transparent" in " ".join(b.text for b in doc.blocks).lower()


@pytest.mark.parametrize("ext", [".png", ".jpg", ".bmp", ".tiff", ".webp", ".gif"])
def test_formats_without_text_give_no_blocks(ext: str) -> None:
    img = np.full((120, 200, 3), 255, np.uint8)
    cv2.rectangle(img, (40, 30), (160, 90), (30, 120, 200), -1)
    data = _pil_bytes([img], "GIF") if ext == ".gif" else _encode(img, ext)
    doc = parse_image(data)
    assert doc.page_count == 1
    assert doc.blocks == []


def test_multi_page_tiff_gives_a_page_per_frame() -> None:
    blank = np.full((200, 560, 3), 255, np.uint8)
    doc = parse_image(_pil_bytes([blank, _text_image(["Second page"])], "TIFF"))
    assert doc.page_count == 2
    assert doc.blocks and {b.page for b in doc.blocks} == {2}
    assert "second" in doc.blocks[0].text.lower()


def test_jpeg_grayscale_text() -> None:
    doc = parse_image(_encode(_text_image(["Invoice total"], color=False), ".jpg"))
    assert "invoice" in " ".join(b.text for b in doc.blocks).lower()


@pytest.mark.parametrize(
    "data",
    [b"", b"not an image at all", _encode(np.zeros((50, 50, 3), np.uint8), ".png")[:40]],
    ids=["empty", "garbage", "truncated-png"],
)
def test_unreadable_images(data: bytes) -> None:
    with pytest.raises(ParseError, match=r"^The image cannot be read\.$"):
        parse_image(data)


def test_group_lines_builds_lines_and_paragraphs() -> None:
    items = [
        ("world", Box(120, 10, 200, 30), 0.9),  # same line as "Hello", further right
        ("Hello", Box(10, 11, 100, 30), 0.9),
        ("second line", Box(10, 36, 180, 55), 0.9),  # right below: same paragraph
        ("Far away", Box(10, 200, 120, 220), 0.9),  # after a large gap: new paragraph
        ("column", Box(400, 12, 480, 30), 0.9),  # far to the right: its own paragraph
    ]
    grouped = group_lines(items, scale=2.0)
    assert [t for t, _ in grouped] == ["Hello world second line", "column", "Far away"]
    assert grouped[0][1] == Box(5, 5, 100, 27.5)  # pixels divided by the scale
