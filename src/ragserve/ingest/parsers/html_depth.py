"""Pages nested deeper than libxml2 goes: rewritten with their deep elements flattened.

libxml2's HTML parser stops at an element nested ``2048`` deep (with ``huge_tree``; 256 without)
and drops everything from there on, the text after the deep element included. ``flatten`` reads
the page's tags with a regular expression, which has no depth limit, and writes the page again
without the tags of the elements past ``max_depth``, keeping their text: a block element past
the depth becomes a line break, so its text stays apart from the text around it. Scripts and
styles past the depth go, as the parser would drop them anyway.
"""

from __future__ import annotations

import re

MAX_DEPTH = 1000
"""Open elements kept: well under libxml2's 2048, which also counts the elements that it
opens by itself (``html``, ``body``, a ``p`` around loose text)."""

_VOID = frozenset(
    {
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
        "source", "track", "wbr",
    }
)  # fmt: skip
_INLINE = frozenset(
    {
        "a", "abbr", "b", "bdi", "bdo", "cite", "code", "data", "dfn", "em", "font", "i", "kbd",
        "mark", "q", "s", "samp", "small", "span", "strong", "sub", "sup", "time", "u", "var",
    }
)  # fmt: skip
_TOKEN = re.compile(
    r"<!--.*?(?:-->|\Z)"  # a comment
    r"|<(script|style|textarea|xmp|noscript|iframe|template|svg)\b[^>]*>.*?(?:</\1\s*>|\Z)"
    r"|<(/?)([A-Za-z][^\s/>]*)[^>]*>"  # a start or end tag
    r"|<[!?][^>]*>",  # a doctype or processing instruction
    re.DOTALL | re.IGNORECASE,
)


def flatten(text: str, max_depth: int = MAX_DEPTH) -> str:
    """``text`` (HTML) with no element nested deeper than ``max_depth``; all its text kept."""
    out: list[str] = []
    open_tags: list[str] = []  # the open elements, ``max_depth`` at most
    past = 0  # elements opened past the depth and not closed yet
    position = 0
    for token in _TOKEN.finditer(text):
        out.append(text[position : token.start()])
        position = token.end()
        raw, closing, name = token.group(1), token.group(2), token.group(3)
        if raw is not None or name is None:  # a whole script, a comment, a doctype
            if len(open_tags) < max_depth:
                out.append(token.group())
            continue
        name = name.lower()
        if not closing and name not in _VOID:
            if len(open_tags) < max_depth and not past:
                open_tags.append(name)
                out.append(token.group())
            else:
                past += 1
                out.append("" if name in _INLINE else "<br>")
        elif not closing:  # an empty element
            out.append(token.group() if len(open_tags) < max_depth else _line_break(name))
        elif past:  # the end of an element past the depth
            past -= 1
            out.append("" if name in _INLINE else "<br>")
        elif name in open_tags:
            while open_tags:  # close the elements left open inside it, as parsers do
                if open_tags.pop() == name:
                    break
            out.append(token.group())
    out.append(text[position:])
    return "".join(out)


def _line_break(name: str) -> str:
    return "<br>" if name in ("br", "hr") else ""
