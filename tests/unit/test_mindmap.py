"""Reading a model's Markdown outline into a mind map (``rag/mindmap.py``)."""

from __future__ import annotations

from ragserve.rag.mindmap import outline_tree


def test_several_top_headings_hang_from_root() -> None:
    outline = "Here is the map:\n# One\n- a\n# Two\n## Sub\n1. first\n2) second\n"
    assert outline_tree(outline) == {
        "id": "root",
        "children": [
            {"id": "One", "children": [{"id": "a"}]},
            {"id": "Two", "children": [{"id": "Sub", "children": [{"id": "first"}, {"id": "second"}]}]},
        ],
    }  # fmt: skip


def test_list_items_nest_by_indentation_and_lose_emphasis() -> None:
    outline = "# **Title**\n- top\n  - *inner*\n    - deepest\n- next\n"
    assert outline_tree(outline) == {
        "id": "Title",
        "children": [
            {"id": "top", "children": [{"id": "inner", "children": [{"id": "deepest"}]}]},
            {"id": "next"},
        ],
    }


def test_no_outline_is_an_empty_root() -> None:
    assert outline_tree("I cannot draw that.") == {"id": "root", "children": []}
    assert outline_tree("# Lonely") == {"id": "root", "children": [{"id": "Lonely"}]}
