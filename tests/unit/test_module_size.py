"""Each module does one job: none of ``src/ragserve`` passes 600 lines (docs/design.md)."""

from __future__ import annotations

from pathlib import Path

import ragserve

CEILING = 600


def test_no_module_passes_the_ceiling() -> None:
    root = Path(ragserve.__file__).parent
    sizes = {
        str(path.relative_to(root)): len(path.read_text(encoding="utf-8").splitlines())
        for path in root.rglob("*.py")
    }
    assert sizes, root
    too_long = {name: lines for name, lines in sizes.items() if lines > CEILING}
    assert too_long == {}, f"split these modules: {too_long}"
