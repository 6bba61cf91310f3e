"""Upload file types (spec §3.4): by extension as RAGFlow does, else by content; MIME types."""

from __future__ import annotations

import codecs
import mimetypes
import unicodedata
from enum import StrEnum


class FileType(StrEnum):
    """RAGFlow's ``FileType``, stored as a document's ``type``."""

    PDF = "pdf"
    DOC = "doc"
    VISUAL = "visual"
    AURAL = "aural"
    VIRTUAL = "virtual"
    FOLDER = "folder"
    OTHER = "other"


_DOC_EXTENSIONS = frozenset(
    {
        "msg",
        "eml",
        "doc",
        "docx",
        "ppt",
        "pptx",
        "yml",
        "xml",
        "htm",
        "json",
        "jsonl",
        "ldjson",
        "csv",
        "txt",
        "ini",
        "xls",
        "xlsx",
        "wps",
        "rtf",
        "hlp",
        "pages",
        "numbers",
        "key",
        "md",
        "mdx",
        "py",
        "js",
        "java",
        "c",
        "cpp",
        "h",
        "php",
        "go",
        "ts",
        "sh",
        "cs",
        "kt",
        "html",
        "sql",
    }
)
_AURAL_EXTENSIONS = frozenset(
    {"wav", "flac", "ape", "alac", "wavpack", "wv", "mp3", "aac", "ogg", "vorbis", "opus"}
)
_VISUAL_EXTENSIONS = frozenset(
    {
        "jpg",
        "jpeg",
        "png",
        "tif",
        "tiff",
        "gif",
        "bmp",
        "webp",
        "avif",
        "apng",
        "ico",
        "svg",
        "heic",
        "heif",
        "psd",
        "pcx",
        "tga",
        "exif",
        "fpx",
        "pcd",
        "raw",
        "cr2",
        "nef",
        "mpg",
        "mpeg",
        "avi",
        "rm",
        "rmvb",
        "mov",
        "wmv",
        "asf",
        "dat",
        "asx",
        "wvx",
        "mpe",
        "mpa",
        "mp4",
        "mkv",
        "webm",
        "flv",
        "3gp",
        "m4v",
    }
)


def _extension(name: str) -> str:
    """The lower-cased text after the last dot (``""`` without one)."""
    _, dot, extension = name.rpartition(".")
    return extension.lower() if dot else ""


def file_type_for_name(name: str) -> FileType:
    """The file type implied by the name's last extension, case-insensitively."""
    extension = _extension(name)
    if extension == "pdf":
        return FileType.PDF
    if extension in _DOC_EXTENSIONS:
        return FileType.DOC
    if extension in _AURAL_EXTENSIONS:
        return FileType.AURAL
    if extension in _VISUAL_EXTENSIONS:
        return FileType.VISUAL
    return FileType.OTHER


_MAGIC_PREFIXES: tuple[tuple[bytes, FileType, str], ...] = (
    (b"%PDF-", FileType.PDF, "pdf"),
    (b"\x89PNG\r\n\x1a\n", FileType.VISUAL, "png"),
    (b"\xff\xd8\xff", FileType.VISUAL, "jpg"),
    (b"GIF87a", FileType.VISUAL, "gif"),
    (b"GIF89a", FileType.VISUAL, "gif"),
    (b"II*\x00", FileType.VISUAL, "tiff"),
    (b"MM\x00*", FileType.VISUAL, "tiff"),
)
_CONTAINER_PREFIXES = (b"PK\x03\x04", b"PK\x05\x06", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")
_BMP_HEADER_SIZES = frozenset({12, 16, 40, 52, 56, 64, 108, 124})
_TEXT_CONTROLS = frozenset("\t\n\r\f\v\x1b")
_MAX_CONTROL_SHARE = 0.05


def sniff_file_type(head: bytes) -> tuple[FileType, str] | None:
    """The file type and suffix told by the first bytes of a file (ideally 8 KiB or more).

    Recognises PDF, PNG, JPEG, GIF, WEBP, TIFF, BMP and UTF-8 text. Zip and OLE containers
    (docx, xlsx, doc …) cannot be told apart from a head alone, so they give ``None``, as
    does anything else unrecognised.
    """
    for prefix, file_type, suffix in _MAGIC_PREFIXES:
        if head.startswith(prefix):
            return file_type, suffix
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return FileType.VISUAL, "webp"
    if _is_bmp(head):
        return FileType.VISUAL, "bmp"
    if head.startswith(_CONTAINER_PREFIXES):
        return None
    if _is_text(head):
        return FileType.DOC, "txt"
    return None


def _is_bmp(head: bytes) -> bool:
    """``BM`` followed by a known DIB header size, so text starting with "BM" is not a BMP."""
    return (
        head.startswith(b"BM")
        and len(head) >= 18
        and int.from_bytes(head[14:18], "little") in _BMP_HEADER_SIZES
    )


def _is_text(head: bytes) -> bool:
    """UTF-8 (a multi-byte sequence cut at the end is fine), no NUL, few control characters."""
    if not head or b"\x00" in head:
        return False
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    if not text:
        return False
    controls = sum(
        1 for char in text if char not in _TEXT_CONTROLS and unicodedata.category(char) == "Cc"
    )
    return controls <= len(text) * _MAX_CONTROL_SHARE


def detect(name: str, head: bytes) -> tuple[FileType, str] | None:
    """The type and suffix of an upload: by extension, else by content; ``None`` if unsupported."""
    file_type = file_type_for_name(name)
    if file_type is not FileType.OTHER:
        return file_type, _extension(name)
    return sniff_file_type(head)


_EXTRA_MIME_TYPES = {
    "pdf": "application/pdf",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt": "application/vnd.ms-powerpoint",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "csv": "text/csv",
    "txt": "text/plain",
    "md": "text/markdown",
    "markdown": "text/markdown",
    "mdx": "text/markdown",
    "html": "text/html",
    "htm": "text/html",
    "json": "application/json",
    "jsonl": "application/jsonl",
    "ldjson": "application/jsonl",
    "yml": "application/yaml",
    "yaml": "application/yaml",
    "xml": "application/xml",
    "eml": "message/rfc822",
    "msg": "application/vnd.ms-outlook",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "tif": "image/tiff",
    "tiff": "image/tiff",
    "bmp": "image/bmp",
    "wav": "audio/wav",
    "gz": "application/gzip",
    "tgz": "application/gzip",
    "bz2": "application/x-bzip2",
    "xz": "application/x-xz",
    "zip": "application/zip",
}


def _mime_types() -> mimetypes.MimeTypes:
    """Python's built-in table plus ours, never the host's files; compressed files are typed
    as their compression (``a.tar.gz`` is ``application/gzip``), not as what they contain."""
    table = mimetypes.MimeTypes(filenames=())
    table.encodings_map.clear()
    table.suffix_map.clear()
    for extension, mime_type in _EXTRA_MIME_TYPES.items():
        table.add_type(mime_type, f".{extension}")
    return table


_MIME_TYPES = _mime_types()


def content_type_for(name: str) -> str:
    """The MIME type for serving a file by its name; ``application/octet-stream`` if unknown."""
    extension = _extension(name)
    if not extension:
        return "application/octet-stream"
    mime_type, _ = _MIME_TYPES.guess_type(f"file.{extension}", strict=False)
    return mime_type or "application/octet-stream"
