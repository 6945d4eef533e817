"""Several hubs on one PostgreSQL database: partitions, leader leases, failover (hub/core/cluster.py)."""

from __future__ import annotations

import pytest

from devtools.hubcluster import fresh_database


@pytest.fixture
def cluster_db(postgres_url: str) -> str:
    """A fresh database of its own on the session's PostgreSQL server."""
    return fresh_database(postgres_url)
