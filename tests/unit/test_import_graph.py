"""No import cycles anywhere in ``src/``, counting imports inside functions (a cycle dodged by a
late import is still a cycle); imports made only for type checkers do not count, as they never
run. The layer order is import-linter's contract in pyproject.toml,
checked by ``lint-imports`` in ``.ci/run``."""

from __future__ import annotations

import grimp


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iteratively: the groups of modules that import each other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return groups


def test_the_cycle_finder_finds_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e2"}, "e2": set()}
    assert strongly_connected(graph) == [["a", "b", "c"]]


def test_no_module_of_ragserve_imports_itself_through_others() -> None:
    imports = grimp.build_graph("ragserve", cache_dir=None, exclude_type_checking_imports=True)
    graph = {
        module: {
            imported
            for imported in imports.find_modules_directly_imported_by(module)
            # a package's __init__ importing its own submodules is how packages re-export
            if not imported.startswith(module + ".")
        }
        for module in imports.modules
    }
    assert strongly_connected(graph) == []
