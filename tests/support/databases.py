"""A database of its own on the tests' PostgreSQL server, for a stack whose DAGs write rows
(symbols, models, data health) that other tests' assertions must not meet."""

from __future__ import annotations

import uuid

from candlecast.ops import ensure_database, with_database


def own_database(server_url: str, purpose: str) -> str:
    name = f"candlecast_{purpose}_{uuid.uuid4().hex[:8]}"
    ensure_database(server_url, name)
    return with_database(server_url, name)
