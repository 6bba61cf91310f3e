"""The per-process LRU cache behind the question-vector and metadata-filter caches."""

from __future__ import annotations

from ragserve.lru import LruCache


def test_the_least_recently_used_entry_goes_first() -> None:
    cache: LruCache[str, int] = LruCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "b" is now the least recently used
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)
    assert len(cache) == 2


def test_putting_a_key_again_replaces_its_value_and_clear_empties() -> None:
    cache: LruCache[str, int] = LruCache(2)
    cache.put("a", 1)
    cache.put("a", 5)
    assert cache.get("a") == 5
    assert len(cache) == 1
    cache.clear()
    assert cache.get("a") is None
    assert len(cache) == 0
