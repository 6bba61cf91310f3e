"""How many threads the builtin model uses in each worker process: the cores shared out."""

from __future__ import annotations

from pathlib import Path

from ragserve.settings import Settings
from ragserve.worker import available_cores, embedding_threads


def test_the_cores_are_divided_among_the_worker_processes(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    assert embedding_threads(settings, processes=2, cores=2) == 1
    assert embedding_threads(settings, processes=1, cores=2) == 2
    assert embedding_threads(settings, processes=2, cores=8) == 4
    assert embedding_threads(settings, processes=3, cores=8) == 2
    assert embedding_threads(settings, processes=4, cores=2) == 1  # at least one
    assert embedding_threads(settings, processes=1) == available_cores() >= 1


def test_the_setting_overrides_the_rule(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, worker_embedding_threads=3)
    assert embedding_threads(settings, processes=2, cores=2) == 3
