from candlecast.marketdata import SampleProvider
from candlecast.ohlcv.symbols import sync_symbols, top_symbols
from candlecast.ops import db
from candlecast.settings import SAMPLE_DATA_DIR


def test_migrations_are_idempotent(database_url, conn):
    db.migrate(database_url)
    db.migrate(database_url)
    version = conn.execute(f"SELECT version_num FROM {db.VERSION_TABLE}").fetchall()
    assert version == [{"version_num": "0009"}]
    tables = {
        r["table_name"]
        for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
    }
    assert {"symbols", "models", "predictions", "prediction_steps", "api_keys"} <= tables
    assert {"prediction_outcomes", "outcome_rolling", "drift_alerts", "paper_positions"} <= tables
    assert {"rankings", "ranking_outcomes"} <= tables


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


class TwoQuotes(SampleProvider):
    """The sample with BTC and ETH also quoted in USD: BTC most liquid against USDT, ETH
    against USD."""

    def list_tickers(self):
        from candlecast.marketdata import TickerInfo

        return super().list_tickers() + [
            TickerInfo("X:BTCUSD", "Bitcoin - USD", "BTC", "USD"),
            TickerInfo("X:ETHUSD", "Ethereum - USD", "ETH", "USD"),
        ]

    def daily_usd_volumes(self, day):
        volumes = super().daily_usd_volumes(day)
        return {
            **volumes,
            "X:BTCUSD": volumes["X:BTCUSDT"] / 2,
            "X:ETHUSD": volumes["X:ETHUSDT"] * 2,
        }


def _ranks(conn) -> dict:
    rows = conn.execute("SELECT ticker, volume_rank, usd_volume_24h FROM symbols").fetchall()
    return {r["ticker"]: (r["volume_rank"], r["usd_volume_24h"]) for r in rows}


def test_coins_not_pairs_are_ranked(fresh_database_url, settings):
    with db.connect(settings.model_copy(update={"database_url": fresh_database_url})) as conn:
        sync_symbols(conn, TwoQuotes(SAMPLE_DATA_DIR))
        ranks = _ranks(conn)
        top = top_symbols(conn, 10)
    assert len(top) == 5 and sorted(r for r, _ in ranks.values() if r) == [1, 2, 3, 4, 5]
    assert "X:BTCUSDT" in top and "X:BTCUSD" not in top and ranks["X:BTCUSD"][0] is None
    assert "X:ETHUSD" in top and "X:ETHUSDT" not in top and ranks["X:ETHUSDT"][0] is None
    assert ranks["X:ETHUSDT"][1] > 0  # its volume is still recorded


def test_an_empty_or_failed_grouped_daily_keeps_the_ranking(
    fresh_database_url, redis_url, tmp_path, monkeypatch
):
    import json

    from candlecast.pipeline import run_symbol_sync
    from candlecast.settings import Settings
    from tests.support.fake_provider import FakeProvider, Fault
    from tests.support.webhook import WebhookSink

    with FakeProvider(SAMPLE_DATA_DIR) as fake, WebhookSink() as sink:
        monkeypatch.setenv(
            "AIRFLOW_CONN_CANDLECAST_SLACK", json.dumps({"conn_type": "http", "password": sink.url})
        )
        settings = Settings(
            _env_file=None,
            candlecast_home=tmp_path,
            database_url=fresh_database_url,
            redis_url=redis_url,
            candlecast_provider="polygon",
            polygon_api_key=fake.faults.api_key,
            polygon_base_url=fake.base_url,
            polygon_max_retries=0,
            polygon_backoff_seconds=0.01,
            candlecast_now=SampleProvider(SAMPLE_DATA_DIR).now().to_pydatetime(),
        )
        first = run_symbol_sync(settings)
        assert first["ranking"] == "updated" and first["universe"] == 5
        with db.connect(settings) as conn:
            before = _ranks(conn)
        assert all(rank for rank, _ in before.values())
        fake.faults.grouped_empty = True
        empty = run_symbol_sync(settings)
        fake.faults.grouped_empty = False
        fake.faults.script = [Fault("grouped", "status", times=3, status=500)]
        failed = run_symbol_sync(settings)
        with db.connect(settings) as conn:
            after = _ranks(conn)
            universe = conn.execute(
                "SELECT tickers FROM universe_runs ORDER BY recorded_at DESC LIMIT 1"
            ).fetchone()["tickers"]
    assert empty["ranking"] == failed["ranking"] == "kept"
    assert empty["volume_day"] is None and "empty" in empty["warning"]
    assert "500" in failed["warning"]
    assert after == before and len(universe) == 5
    days = {p.rsplit("/", 1)[-1].split("?")[0] for _, p, _ in fake.requests("grouped")}
    assert len(days) == 3  # looked back three days before giving up
    alerts = [m["text"] for m in sink.messages]
    assert len(alerts) == 2 and all("previous ranking is kept" in a for a in alerts)
    assert first["volume_day"] < settings.candlecast_now.date().isoformat()


def test_reports_sent_before_0009_stay_sent_and_a_rejected_stage_is_allowed(fresh_database_url):
    import psycopg
    from psycopg.rows import dict_row

    db.migrate(fresh_database_url, "0008")
    with psycopg.connect(fresh_database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO sent_reports (kind, period_end, text_path, plot_path) "
            "VALUES ('daily', '2025-03-03T07:00Z', 'a.txt', 'a.png')"
        )
    db.migrate(fresh_database_url)
    with psycopg.connect(fresh_database_url, autocommit=True, row_factory=dict_row) as conn:
        row = conn.execute("SELECT * FROM sent_reports").fetchone()
        assert (row["status"], row["attempts"], row["body"]) == ("sent", 1, None)
        assert row["delivered_at"] == row["sent_at"]
        conn.execute(
            "INSERT INTO models (name, version, timeframe, algorithm, feature_set_version, "
            "trained_at, n_symbols, n_train_rows, stage) "
            "VALUES ('x', 'v', '1h', 'a', 'v1', now(), 1, 1, 'rejected')"
        )
        assert conn.execute("SELECT live_gate FROM models").fetchone()["live_gate"] == {}
