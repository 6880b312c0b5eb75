from candlecast.marketdata import SampleProvider
from candlecast.ohlcv.symbols import sync_symbols, top_symbols
from candlecast.ops import db
from candlecast.settings import SAMPLE_DATA_DIR


def test_migrations_are_idempotent(database_url, conn):
    db.migrate(database_url)
    db.migrate(database_url)
    version = conn.execute(f"SELECT version_num FROM {db.VERSION_TABLE}").fetchall()
    assert version == [{"version_num": "0004"}]
    tables = {
        r["table_name"]
        for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
    }
    assert {"symbols", "models", "predictions", "prediction_steps", "api_keys"} <= tables


def test_timeframe_check_uses_capital_month(conn):
    import psycopg
    import pytest

    with pytest.raises(psycopg.errors.CheckViolation), conn.transaction():
        conn.execute(
            "INSERT INTO models (name, version, timeframe, algorithm, feature_set_version, "
            "trained_at, n_symbols, n_train_rows) VALUES ('x', 'v', '1m', 'a', 'v1', now(), 1, 1)"
        )


class Shrinking(SampleProvider):
    """The sample provider after BNB was delisted."""

    def list_tickers(self):
        return [t for t in super().list_tickers() if t.ticker != "X:BNBUSDT"]


def test_symbol_sync_upserts_ranks_and_deactivates(conn):
    provider = SampleProvider(SAMPLE_DATA_DIR)
    first = sync_symbols(conn, provider)
    again = sync_symbols(conn, provider)
    assert first.upserted == again.upserted == 5
    count = conn.execute("SELECT count(*) AS n FROM symbols").fetchone()["n"]
    assert count == 5
    volumes = provider.daily_usd_volumes(
        provider.now().date() - __import__("datetime").timedelta(1)
    )
    assert top_symbols(conn, 2) == sorted(volumes, key=volumes.get, reverse=True)[:2]
    result = sync_symbols(conn, Shrinking(SAMPLE_DATA_DIR))
    assert result.deactivated == 1
    row = conn.execute(
        "SELECT active, volume_rank FROM symbols WHERE ticker = 'X:BNBUSDT'"
    ).fetchone()
    assert row == {"active": False, "volume_rank": None}
    assert "X:BNBUSDT" not in top_symbols(conn, 10)
    sync_symbols(conn, provider)  # it comes back
    assert "X:BNBUSDT" in top_symbols(conn, 10)
