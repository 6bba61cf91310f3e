"""The picture of a captcha: its letters drawn in Pillow's built-in font over noise, as JPEG.

No font file and no network: ``ImageFont.load_default`` is compiled into Pillow.
"""

from __future__ import annotations

import io
import secrets

from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 200, 70


def _random(upper: int) -> int:
    return secrets.randbelow(upper)


def picture(text: str) -> bytes:
    """``text`` as a JPEG a person reads easily and a naive OCR less so."""
    image = Image.new("RGB", (WIDTH, HEIGHT), (245, 245, 240))
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        colour = (_random(160) + 60, _random(160) + 60, _random(160) + 60)
        start = (_random(WIDTH), _random(HEIGHT))
        draw.line([start, (_random(WIDTH), _random(HEIGHT))], fill=colour, width=2)
    font = ImageFont.load_default(size=38)
    step = (WIDTH - 20) // max(len(text), 1)
    for index, letter in enumerate(text):
        colour = (_random(90), _random(90), _random(90))
        position = (12 + index * step + _random(6), 8 + _random(14))
        draw.text(position, letter, fill=colour, font=font)
    for _ in range(300):
        draw.point((_random(WIDTH), _random(HEIGHT)), fill=(_random(255),) * 3)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=80)
    return out.getvalue()
