"""Plain text files, and the helpers the other parsers share: decoding, tables, error handling."""

from __future__ import annotations

import codecs
import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from charset_normalizer import from_bytes

from ragserve.ingest.types import Block, BlockKind, ParsedDocument, ParseError

logger = logging.getLogger(__name__)

NOT_TEXT = "The file is not text."
PROTECTED = "The file is password-protected; remove the password and upload it."

# Longest first: the UTF-32 LE mark starts with the UTF-16 LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_BLANK_LINES = re.compile(r"\n[ \t\f\v]*\n")
_MAX_CONTROL_SHARE = 0.05
_ALLOWED_CONTROLS = frozenset("\t\n\r\f\v\x1b")
# An OLE (compound file) container: old Office binaries and password-protected Office files.
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")


def decode_text(data: bytes, *, declared: str | None = None) -> str:
    """The text of ``data``: by BOM, then ``declared`` (if Python knows it), then UTF-8, then
    charset detection. Line ends become ``\\n``. Raises ParseError if it does not look like text.
    """
    text = _decode(data, declared)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text:
        controls = sum(1 for char in text if char < " " and char not in _ALLOWED_CONTROLS)
        if "\x00" in text or controls > len(text) * _MAX_CONTROL_SHARE:
            raise ParseError(NOT_TEXT)
    return text


def _decode(data: bytes, declared: str | None) -> str:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(encoding)
            except UnicodeDecodeError:
                raise ParseError(NOT_TEXT) from None
    if b"\x00" in data:
        utf16 = _utf16_without_bom(data)
        if utf16 is None:
            raise ParseError(NOT_TEXT)
        return utf16
    if declared:
        try:
            return data.decode(declared)
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    for match in from_bytes(data):
        # Without NUL bytes, a UTF-16/32 guess is a wrong guess about a short 8-bit text.
        if not match.encoding.startswith(("utf_16", "utf_32")):
            return str(match)
    raise ParseError(NOT_TEXT)


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 text with no BOM shows NULs in every other byte (for Latin text)."""
    if len(data) < 2 or len(data) % 2:
        return None
    even_nuls = data[0::2].count(0)
    odd_nuls = data[1::2].count(0)
    half = len(data) // 2
    if odd_nuls > half * 0.3 and even_nuls == 0:
        encoding = "utf-16-le"
    elif even_nuls > half * 0.3 and odd_nuls == 0:
        encoding = "utf-16-be"
    else:
        return None
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        return None


def paragraph_blocks(text: str, *, kind: BlockKind = BlockKind.TEXT) -> list[Block]:
    """One block per paragraph of ``text`` (paragraphs are separated by blank lines)."""
    blocks = []
    for paragraph in _BLANK_LINES.split(text.replace("\r\n", "\n")):
        paragraph = paragraph.strip("\n").rstrip()
        if paragraph.strip():
            blocks.append(Block(kind=kind, text=paragraph))
    return blocks


def parse_text(data: bytes) -> ParsedDocument:
    """Plain text (and source code, logs, config files): one TEXT block per paragraph."""
    return ParsedDocument(blocks=paragraph_blocks(decode_text(data)))


def clean_rows(rows: Sequence[Sequence[str]]) -> list[list[str]]:
    """Cells trimmed; trailing empty rows and columns dropped; rows padded to one width."""
    trimmed = [[cell.strip() for cell in row] for row in rows]
    while trimmed and not any(trimmed[-1]):
        trimmed.pop()
    width = max((_used_width(row) for row in trimmed), default=0)
    return [(row + [""] * width)[:width] for row in trimmed]


def _used_width(row: list[str]) -> int:
    for index in range(len(row), 0, -1):
        if row[index - 1]:
            return index
    return 0


def table_text(rows: Sequence[Sequence[str]]) -> str:
    """A plain rendering of a table: one line per row, cells separated by `` | ``."""
    return "\n".join(" | ".join(" ".join(cell.split()) for cell in row) for row in rows)


def table_block(
    rows: Sequence[Sequence[str]],
    *,
    has_header: bool | None = None,
    page: int = 0,
    section: str = "",
) -> Block | None:
    """A TABLE block of the cleaned ``rows``, or None if nothing is left. Without an explicit
    ``has_header``, the first row is a header when every cell of it is filled and not a number
    and more rows follow.
    """
    cleaned = clean_rows(rows)
    if not cleaned:
        return None
    if has_header is None:
        has_header = looks_like_header(cleaned[0]) and len(cleaned) > 1
    return Block(
        kind=BlockKind.TABLE,
        text=table_text(cleaned),
        page=page,
        rows=tuple(tuple(row) for row in cleaned),
        has_header=has_header,
        section=section,
    )


def looks_like_header(row: Sequence[str]) -> bool:
    return bool(row) and all(cell and not _is_number(cell) for cell in row)


def _is_number(cell: str) -> bool:
    try:
        float(cell.replace(",", ""))
    except ValueError:
        return False
    return True


def check_office_container(data: bytes, old_format_message: str) -> None:
    """Refuse an OLE container where an OOXML zip is expected: an encrypted file, or an old
    binary Office file under a new suffix."""
    if data.startswith(OLE_MAGIC):
        if is_encrypted_office_file(data):
            raise ParseError(PROTECTED)
        raise ParseError(old_format_message)


def is_encrypted_office_file(data: bytes) -> bool:
    """A password-protected OOXML file is an OLE container with an ``EncryptedPackage``."""
    return data.startswith(OLE_MAGIC) and _ENCRYPTED_STREAM in data


@contextmanager
def damaged_file(message: str) -> Iterator[None]:
    """Turn any exception but ParseError into ParseError(message), logging the original."""
    try:
        yield
    except ParseError:
        raise
    except Exception as exc:
        logger.warning("%s (%s: %s)", message, type(exc).__name__, exc)
        raise ParseError(message) from exc
