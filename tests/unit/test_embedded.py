"""The embedded PostgreSQL restarts in the same process after a stop (the degradation tests and
`candlecast down && up` in one process rely on it)."""

from __future__ import annotations

import psycopg
import pytest

from candlecast.ops import embedded


def test_embedded_postgres_stops_and_starts_again_in_one_process(tmp_path):
    url = embedded.start_postgres(tmp_path)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (n int)")
        conn.execute("INSERT INTO kept VALUES (7)")
    assert embedded.stop_postgres(tmp_path) is True
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=2)
    assert embedded.stop_postgres(tmp_path) is False  # already stopped
    try:
        assert embedded.start_postgres(tmp_path) == url
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT n FROM kept").fetchone() == (7,)
    finally:
        embedded.stop_postgres(tmp_path)
