"""Fixtures of the document API tests."""

from __future__ import annotations

import pytest

from api.documents.support import join_tenant, make_dataset, upload_one
from conftest import Account
from ragserve.db.models import TenantRole
from ragserve.runtime import Runtime

# --------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture
def dataset(alice: Account) -> str:
    return make_dataset(alice)


@pytest.fixture
def bob_doc(bob: Account) -> tuple[str, str]:
    """Bob's dataset and one document in it."""
    dataset_id = make_dataset(bob)
    return dataset_id, upload_one(bob, dataset_id, "secret.txt", b"bob's secret")["id"]


@pytest.fixture
def team_dataset(runtime: Runtime, alice: Account, bob: Account) -> str:
    """Alice's `team` dataset; bob is a normal member of alice's tenant."""
    join_tenant(runtime, bob, alice, TenantRole.NORMAL)
    return make_dataset(alice, permission="team")
