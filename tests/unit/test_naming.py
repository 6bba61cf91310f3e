from __future__ import annotations

import pytest

from ragserve.services.naming import free_name, shortest_stem, split_extension


@pytest.mark.parametrize(
    ("name", "expected"),
    [("a.txt", ("a", ".txt")), (".env", (".env", "")), ("a", ("a", "")), ("a.b.c", ("a.b", ".c"))],
)
def test_split_extension(name: str, expected: tuple[str, str]) -> None:
    assert split_extension(name) == expected


@pytest.mark.parametrize(
    ("name", "taken", "expected"),
    [
        ("a.txt", set(), "a.txt"),
        ("a.txt", {"a.txt"}, "a(1).txt"),
        ("a.txt", {"a.txt", "a(1).txt"}, "a(2).txt"),
        ("rep(3).txt", {"rep(3).txt"}, "rep(4).txt"),
        (".gitignore", {".gitignore"}, ".gitignore(1)"),
        ("noext", {"noext"}, "noext(1)"),
    ],
)
def test_free_document_names(name: str, taken: set[str], expected: str) -> None:
    assert free_name(name, taken.__contains__, keep_extension=True) == expected


def test_free_names_fit_the_byte_limit() -> None:
    name = "x" * 251 + ".txt"
    taken = {name}
    for expected in ("x" * 248 + "(1).txt", "x" * 248 + "(2).txt"):
        got = free_name(name, taken.__contains__, keep_extension=True, max_bytes=255)
        assert got == expected and len(got.encode()) <= 255
        taken.add(got)
    assert all(n.startswith(shortest_stem(name, keep_extension=True, max_bytes=255)) for n in taken)


def test_multibyte_names_are_cut_on_character_boundaries() -> None:
    name = "é" * 125 + ".txt"  # 254 bytes
    got = free_name(name, {name}.__contains__, keep_extension=True, max_bytes=255)
    assert got.endswith("(1).txt") and len(got.encode()) <= 255
    assert got.encode().decode() == got


def test_dataset_names_keep_dots() -> None:
    assert free_name("v1.0", {"v1.0"}.__contains__) == "v1.0(1)"
