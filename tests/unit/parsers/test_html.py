from __future__ import annotations

import pytest

from ragserve.ingest.parsers import parse_file
from ragserve.ingest.parsers.html import parse_html, parse_html_text
from ragserve.ingest.types import BlockKind, ParseError

PAGE = """<!DOCTYPE html>
<html><head><title> Shop  guide </title>
<style>p { color: red }</style><script>var hidden = "script text";</script></head>
<body>
<nav><a href="/">Home</a> <a href="/about">About</a></nav>
<h1>Welcome</h1>
<p>First   paragraph
   over two lines.</p>
<div>Loose text in a div<br>after a break</div>
<h3>Lists</h3>
<ul><li>One</li><li>Two<ul><li>Two-a</li></ul></li></ul>
<pre>def f():
    return 1</pre>
<blockquote>Quoted words.</blockquote>
<table>
  <thead><tr><th>Name</th><th>Price</th><th>Stock</th></tr></thead>
  <tbody>
    <tr><td rowspan="2">Tea</td><td colspan="2">sold out</td></tr>
    <tr><td>3</td><td>0</td></tr>
  </tbody>
</table>
<noscript>Enable JavaScript</noscript>
<!-- a comment -->
<p hidden>Not shown</p>
<footer>Copyright</footer>
</body></html>"""


def test_blocks_in_order_with_kinds() -> None:
    parsed = parse_html(PAGE.encode())
    summary = [(block.kind, block.text, block.level) for block in parsed.blocks]
    assert summary == [
        (BlockKind.HEADING, "Welcome", 1),
        (BlockKind.TEXT, "First paragraph over two lines.", 0),
        (BlockKind.TEXT, "Loose text in a div\nafter a break", 0),
        (BlockKind.HEADING, "Lists", 3),
        (BlockKind.LIST_ITEM, "One", 0),
        (BlockKind.LIST_ITEM, "Two", 0),
        (BlockKind.LIST_ITEM, "Two-a", 0),
        (BlockKind.CODE, "def f():\n    return 1", 0),
        (BlockKind.TEXT, "Quoted words.", 0),
        (BlockKind.TABLE, "Name | Price | Stock\nTea | sold out | \n | 3 | 0", 0),
    ]
    assert parsed.title == "Shop guide"


def test_table_spans_leave_positions_empty() -> None:
    table = parse_html(PAGE.encode()).blocks[-1]
    assert table.rows == (("Name", "Price", "Stock"), ("Tea", "sold out", ""), ("", "3", "0"))
    assert table.has_header


def test_nested_table_rows_stay_in_their_table() -> None:
    html = (
        "<table><tr><td>outer</td><td><table><tr><td>inner</td></tr></table></td></tr>"
        "<tr><td>1</td><td>2</td></tr></table>"
    )
    (block,) = parse_html_text(html).blocks
    assert block.rows == (("outer", "inner"), ("1", "2"))
    assert not block.has_header


def test_dropped_elements_leave_no_text() -> None:
    text = " ".join(block.text for block in parse_html(PAGE.encode()).blocks)
    for dropped in ("script text", "color", "Home", "Copyright", "JavaScript", "comment", "Not"):
        assert dropped not in text


def test_charset_from_meta() -> None:
    html = '<html><head><meta charset="windows-1251"></head><body><p>Привет, мир</p></body></html>'
    (block,) = parse_html(html.encode("cp1251")).blocks
    assert block.text == "Привет, мир"


def test_charset_from_http_equiv_latin1_means_cp1252() -> None:
    html = (
        '<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-1">'
        "<p>caf\xe9 \u20ac5</p>"
    )
    (block,) = parse_file(html.encode("cp1252"), suffix="htm").blocks
    assert block.text == "café €5"


def test_charset_detected_without_meta() -> None:
    text = "这是一个测试文件。我们需要检查中文编码是否能够被正确识别，然后再继续处理。"
    (block,) = parse_html(f"<p>{text}</p>".encode("gbk")).blocks
    assert block.text == text


def test_xhtml_with_xml_declaration() -> None:
    xhtml = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<html xmlns="http://www.w3.org/1999/xhtml"><body><h2>Ünïcode</h2></body></html>'
    )
    (block,) = parse_file(xhtml.encode(), suffix="xhtml").blocks
    assert (block.kind, block.text, block.level) == (BlockKind.HEADING, "Ünïcode", 2)


def test_comment_only_and_whitespace_give_no_blocks() -> None:
    assert parse_html(b"<!-- nothing -->").blocks == []
    assert parse_html(b"  \n ").blocks == []


def test_binary_is_not_html() -> None:
    with pytest.raises(ParseError, match="not text"):
        parse_file(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", suffix="html")


def test_header_row_only_when_marked_up() -> None:
    thead = parse_html_text(
        "<table><thead><tr><td>A</td></tr></thead><tr><td>1</td></tr></table>"
    ).blocks[0]
    plain = parse_html_text("<table><tr><td>A</td></tr><tr><td>1</td></tr></table>").blocks[0]
    assert (thead.has_header, plain.has_header) == (True, False)


def test_deeply_nested_page_is_read_whole() -> None:
    depth = 1000  # 2000 nested elements: beyond libxml2's default limit and Python's recursion
    html = b"<p>before</p>" + b"<div><span>" * depth + b"deep" + b"</span></div>" * depth
    parsed = parse_html(html + b"<p>after</p>")
    assert [block.text for block in parsed.blocks] == ["before", "deep", "after"]


@pytest.mark.parametrize("depth", [3_000, 200_000])
def test_a_page_deeper_than_libxml2_reads_keeps_every_text(depth: int) -> None:
    """libxml2 stops at 2048 levels; the page is flattened past a depth, its text all kept."""
    levels = "".join(f"<div>level{n} <span>word{n}</span>" for n in range(depth))
    html = (
        f"<html><head><title>Deep</title></head><body><h1>Top</h1><p>before</p>{levels}"
        f"<script>var hidden = 1;</script> <b>deepest</b>{'</div>' * depth}<p>after</p></body></html>"
    )
    parsed = parse_html(html.encode())
    text = "\n".join(block.text for block in parsed.blocks)
    words = text.split()
    assert parsed.title == "Deep"
    assert words[:3] == ["Top", "before", "level0"]
    assert words[-2:] == ["deepest", "after"]
    assert [w for w in words if w.startswith("word")] == [f"word{n}" for n in range(depth)]
    assert [w for w in words if w.startswith("level")] == [f"level{n}" for n in range(depth)]
    assert "hidden" not in text
    assert parsed.blocks[-1].text == "after"


def test_a_too_deep_email_body_keeps_its_text() -> None:
    depth = 2_500
    parsed = parse_html_text("<div>" * depth + "inner" + "</div>" * depth + "<p>tail &amp; end</p>")
    assert [block.text for block in parsed.blocks][-2:] == ["inner", "tail & end"]
