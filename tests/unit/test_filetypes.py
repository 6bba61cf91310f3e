from __future__ import annotations

import copy
import mimetypes
import struct

import pytest

from ragserve.services.filetypes import (
    FileType,
    content_type_for,
    detect,
    file_type_for_name,
    sniff_file_type,
)

DOC_EXTENSIONS = [
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
]
AURAL_EXTENSIONS = [
    "wav",
    "flac",
    "ape",
    "alac",
    "wavpack",
    "wv",
    "mp3",
    "aac",
    "ogg",
    "vorbis",
    "opus",
]
VISUAL_EXTENSIONS = [
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
]

PDF_HEAD = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"
PNG_HEAD = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
JPEG_HEAD = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"
BMP_HEAD = b"BM" + struct.pack("<IHHII", 70, 0, 0, 54, 40) + b"\x00" * 40
WEBP_HEAD = b"RIFF\x24\x00\x00\x00WEBPVP8 "
ZIP_HEAD = b"PK\x03\x04\x14\x00\x06\x00" + b"[Content_Types].xml"


def test_file_type_values() -> None:
    assert [file_type.value for file_type in FileType] == [
        "pdf",
        "doc",
        "visual",
        "aural",
        "virtual",
        "folder",
        "other",
    ]


def test_pdf_extension() -> None:
    assert file_type_for_name("report.pdf") is FileType.PDF


@pytest.mark.parametrize("extension", DOC_EXTENSIONS)
def test_doc_extensions(extension: str) -> None:
    assert file_type_for_name(f"file.{extension}") is FileType.DOC


@pytest.mark.parametrize("extension", AURAL_EXTENSIONS)
def test_aural_extensions(extension: str) -> None:
    assert file_type_for_name(f"file.{extension}") is FileType.AURAL


@pytest.mark.parametrize("extension", VISUAL_EXTENSIONS)
def test_visual_extensions(extension: str) -> None:
    assert file_type_for_name(f"file.{extension}") is FileType.VISUAL


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("REPORT.PDF", FileType.PDF),
        ("Slides.PpTx", FileType.DOC),
        ("Song.MP3", FileType.AURAL),
        ("IMG_0001.JPG", FileType.VISUAL),
        ("archive.tar.gz", FileType.OTHER),
        ("notes.pdf.txt", FileType.DOC),
        ("notes.txt.pdf", FileType.PDF),
        ("README", FileType.OTHER),
        ("trailing.", FileType.OTHER),
        (".pdf", FileType.PDF),
        ("setup.exe", FileType.OTHER),
        ("", FileType.OTHER),
    ],
)
def test_file_type_edge_names(name: str, expected: FileType) -> None:
    assert file_type_for_name(name) is expected


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (PDF_HEAD, (FileType.PDF, "pdf")),
        (PNG_HEAD, (FileType.VISUAL, "png")),
        (JPEG_HEAD, (FileType.VISUAL, "jpg")),
        (b"GIF87a\x01\x00\x01\x00", (FileType.VISUAL, "gif")),
        (b"GIF89a\x01\x00\x01\x00", (FileType.VISUAL, "gif")),
        (WEBP_HEAD, (FileType.VISUAL, "webp")),
        (b"II*\x00\x08\x00\x00\x00", (FileType.VISUAL, "tiff")),
        (b"MM\x00*\x00\x00\x00\x08", (FileType.VISUAL, "tiff")),
        (BMP_HEAD, (FileType.VISUAL, "bmp")),
    ],
)
def test_sniff_magic(head: bytes, expected: tuple[FileType, str]) -> None:
    assert sniff_file_type(head) == expected
    assert sniff_file_type(head + b"\x00" * 8192) == expected


@pytest.mark.parametrize(
    "head",
    [
        b"plain ascii text\nwith lines\r\n\tand tabs",
        "Grüße, 你好, emoji 🎉\n".encode(),
        b"BMW is a car brand, not a bitmap header at all.\n",
        b"RIFF is not followed by WEBP here",
        "x" * 9000 + "é",
        "\ufeffwith a byte order mark",
    ],
    ids=["ascii", "utf8", "bm-text", "riff-text", "long", "bom"],
)
def test_sniff_text(head: bytes | str) -> None:
    data = head.encode() if isinstance(head, str) else head
    assert sniff_file_type(data) == (FileType.DOC, "txt")


@pytest.mark.parametrize("cut", [1, 2, 3])
def test_sniff_text_with_truncated_utf8_tail(cut: int) -> None:
    data = ("text " * 100 + "🎉").encode()
    assert sniff_file_type(data[:-cut]) == (FileType.DOC, "txt")


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"text with a NUL \x00 inside",
        b"invalid \xff\xfe utf-8 in the middle, then more text",
        b"\xe2\x82",
        b"\x01\x02\x03\x04\x05\x06\x07\x0e\x0f\x10 mostly control characters",
        ZIP_HEAD,
        b"PK\x05\x06" + b"\x00" * 18,
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 24,
        b"RIFF\x24\x00\x00\x00WAVEfmt ",
        b"\x7fELF\x02\x01\x01\x00",
        b"BM" + b"\x00" * 20,
    ],
    ids=[
        "empty",
        "nul",
        "invalid-utf8",
        "only-truncated",
        "controls",
        "zip",
        "empty-zip",
        "ole",
        "wave",
        "elf",
        "bm-bad-header",
    ],
)
def test_sniff_unsupported(head: bytes) -> None:
    assert sniff_file_type(head) is None


@pytest.mark.parametrize(
    ("name", "head", "expected"),
    [
        ("Report.PDF", b"", (FileType.PDF, "pdf")),
        ("notes.TXT", PDF_HEAD, (FileType.DOC, "txt")),
        ("photo.JPeG", b"", (FileType.VISUAL, "jpeg")),
        ("talk.Mp3", b"", (FileType.AURAL, "mp3")),
        ("download.bin", PDF_HEAD, (FileType.PDF, "pdf")),
        ("scan", PNG_HEAD, (FileType.VISUAL, "png")),
        ("README", b"# Title\n\nSome words.\n", (FileType.DOC, "txt")),
        ("archive.tar.gz", b"\x1f\x8b\x08\x00\x00\x00\x00\x00", None),
        ("document", ZIP_HEAD, None),
        ("empty.unknown", b"", None),
    ],
)
def test_detect(name: str, head: bytes, expected: tuple[FileType, str] | None) -> None:
    assert detect(name, head) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.pdf", "application/pdf"),
        ("a.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        ("a.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ("a.pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
        ("a.doc", "application/msword"),
        ("a.xls", "application/vnd.ms-excel"),
        ("a.ppt", "application/vnd.ms-powerpoint"),
        ("a.csv", "text/csv"),
        ("a.txt", "text/plain"),
        ("a.md", "text/markdown"),
        ("a.html", "text/html"),
        ("a.json", "application/json"),
        ("a.jsonl", "application/jsonl"),
        ("a.eml", "message/rfc822"),
        ("a.msg", "application/vnd.ms-outlook"),
        ("a.png", "image/png"),
        ("a.jpg", "image/jpeg"),
        ("a.jpeg", "image/jpeg"),
        ("a.gif", "image/gif"),
        ("a.webp", "image/webp"),
        ("a.tiff", "image/tiff"),
        ("a.bmp", "image/bmp"),
        ("a.mp3", "audio/mpeg"),
        ("a.mp4", "video/mp4"),
        ("REPORT.PDF", "application/pdf"),
        ("Notes.MD", "text/markdown"),
        ("archive.tar.gz", "application/gzip"),
        ("a.tgz", "application/gzip"),
        ("a.unknownext", "application/octet-stream"),
        ("README", "application/octet-stream"),
        ("trailing.", "application/octet-stream"),
        ("data:text/plain,x", "application/octet-stream"),
    ],
)
def test_content_type_for(name: str, expected: str) -> None:
    assert content_type_for(name) == expected


def test_content_type_ignores_global_mimetypes_table(monkeypatch: pytest.MonkeyPatch) -> None:
    mimetypes.init()
    monkeypatch.setattr(mimetypes, "_db", copy.deepcopy(mimetypes._db))  # type: ignore[attr-defined]
    mimetypes.add_type("application/x-host-pdf", ".pdf")
    mimetypes.add_type("application/x-host-thing", ".hostthing")
    assert mimetypes.guess_type("a.pdf")[0] == "application/x-host-pdf"
    assert content_type_for("a.pdf") == "application/pdf"
    assert content_type_for("a.hostthing") == "application/octet-stream"
