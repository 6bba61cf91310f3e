"""Fixtures of the API tests: a small parsed corpus for retrieval."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from api.test_parsing import new_dataset, parse, upload
from conftest import Account

DOCS = {
    "cranes.md": "# Cranes\n\nCranes are large wading birds with long legs and necks. "
    "Whooping cranes migrate across North America every autumn.",
    "engines.md": "# Jet engines\n\nA turbofan engine compresses air, burns fuel and drives a fan. "
    "Engine thrust depends on the mass flow of air.",
    "bread.md": "# Baking bread\n\nKnead the dough, let it rise, then bake the bread in a hot "
    "oven until the crust is brown.",
}


@dataclass
class Corpus:
    dataset_id: str
    documents: dict[str, str]
    """name -> document id"""


@pytest.fixture
def corpus(alice: Account) -> Corpus:
    dataset_id = new_dataset(alice, name="retrieval")
    documents = {
        name: upload(alice, dataset_id, name, text.encode()) for name, text in DOCS.items()
    }
    assert parse(alice, dataset_id, list(documents.values())) == {"code": 0}
    return Corpus(dataset_id, documents)
