"""Replays: a forecast at a date reads nothing at or after it (every later candle changed, a coin
listed later: the same bytes), the champion at a date follows the release history in
PostgreSQL, and a replay's table, figures and report are written and say what they scored."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pytest
from psycopg.rows import dict_row

from candlecast.modeling import releases
from candlecast.modeling.champions import champion_at
from candlecast.modeling.training import train_timeframe
from candlecast.ohlcv import CandleStore
from candlecast.ops import db
from candlecast.replay import (
    Version,
    candles_per_step,
    forecast_dates,
    replay_dates,
    run_replay,
    spacing,
    write_replay,
)
from candlecast.timeframes import TIMEFRAMES
from tests.support.synthetic_universe import synthetic_candles, write_store

HOUR = TIMEFRAMES["1h"]
AS_OF = pd.Timestamp("2022-02-08 00:00", tz="UTC")
NOW = pd.Timestamp("2022-03-01", tz="UTC")
FORECAST_COLUMNS = [
    "ticker", "as_of", "last_candle_at", "model", "step", "timestamp", "last_close", "close",
    "close_low_80", "close_high_80", "direction", "confidence", "skill", "relative_skill",
    "raw_z", "sigma",
]  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Ten coins of 1h, two of them the benchmarks (so the market context is read too), and a
    model trained on them as training trains one."""
    candles = synthetic_candles(coins=10, hours=1000, signal=0.08, seed=5)
    names = ["BTCUSDT", "ETHUSDT", *[f"SYN{i:02d}USDT" for i in range(2, 10)]]
    candles = dict(zip(names, candles.values(), strict=True))
    root = write_store(tmp_path_factory.mktemp("replay") / "store", candles)
    store = CandleStore(root)
    model, _, _ = train_timeframe(store, store.tickers(HOUR), HOUR)
    assert model.market == {"BTC": "X:BTCUSDT", "ETH": "X:ETHUSDT"}
    return root, model


def _dates():
    step = spacing("12h", HOUR)
    start = AS_OF - pd.Timedelta(days=3)
    return replay_dates(HOUR, start, AS_OF + pd.Timedelta(days=3), step, NOW), step


def _rewritten_after(root, target, as_of: pd.Timestamp):
    """A copy of the store where every candle at or after `as_of` has other prices and
    volumes, and a coin listed after it."""
    shutil.copytree(root, target)
    store = CandleStore(target)
    rng = np.random.default_rng(99)
    for ticker in store.tickers(HOUR):
        frame = store.read(ticker, HOUR)
        later = frame["timestamp"] >= as_of
        factor = np.exp(np.cumsum(rng.normal(0.0, 0.05, later.sum())))
        for column in ("open", "high", "low", "close", "vwap"):
            frame.loc[later, column] = frame.loc[later, column] * factor
        frame.loc[later, "volume"] = frame.loc[later, "volume"] * rng.uniform(0.1, 10, later.sum())
        store.write(ticker, HOUR, frame)
    listed = store.read("X:SYN05USDT", HOUR)
    listed = listed[listed["timestamp"] >= as_of].reset_index(drop=True)
    store.write(
        "X:NEWUSDT",
        HOUR,
        listed.assign(
            close=listed["close"] * 3,
            open=listed["open"] * 3,
            high=listed["high"] * 3,
            low=listed["low"] * 3,
        ),
    )
    return store


def _forecasts(store, model, dates):
    versions = [Version("candlecast-1h:t", model, "champion at the date")] * len(dates)
    frame, _, _ = forecast_dates(store, HOUR, store.tickers(HOUR), dates, versions)
    return frame


def _bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame[FORECAST_COLUMNS].reset_index(drop=True).to_parquet(buffer, index=False)
    return buffer.getvalue()


def test_forecasts_at_a_date_ignore_every_candle_at_or_after_it(trained, tmp_path):
    root, model = trained
    dates, _ = _dates()
    original = _forecasts(CandleStore(root), model, dates)
    changed = _forecasts(_rewritten_after(root, tmp_path / "changed", AS_OF), model, dates)

    before = original[original["as_of"] <= AS_OF]
    assert before["as_of"].nunique() == sum(d <= AS_OF for d in dates)
    assert set(before["ticker"]) == set(original["ticker"])  # every coin, every date up to as_of
    assert _bytes(before) == _bytes(changed[changed["as_of"] <= AS_OF])
    assert "X:NEWUSDT" not in set(changed.loc[changed["as_of"] <= AS_OF, "ticker"])
    # The change did reach the later dates (so the comparison above could have failed).
    assert "X:NEWUSDT" in set(changed["ticker"])
    later = original[(original["as_of"] > AS_OF) & (original["ticker"] == "X:SYN03USDT")]
    changed_later = changed[(changed["as_of"] > AS_OF) & (changed["ticker"] == "X:SYN03USDT")]
    assert not np.allclose(later["close"].to_numpy(), changed_later["close"].to_numpy())


def test_replay_writes_its_table_figures_and_report(trained, tmp_path):
    root, model = trained
    dates, step = _dates()
    store = CandleStore(root)
    versions = [Version("candlecast-1h:t", model, "champion at the date")] * len(dates)
    replay = run_replay(store, HOUR, store.tickers(HOUR), dates, versions,
                        candles_per_step(step, HOUR), fee=0.002)  # fmt: skip
    paths = write_replay(replay, tmp_path / "out", "replay test")

    table = pd.read_parquet(paths["table"])
    assert len(table) == len(replay.forecasts) == replay.summary["forecasts"] * 30
    assert table["actual_close"].notna().all()  # every step closed before the store's end
    assert replay.summary["coins_forecast"] == 10 and replay.summary["dates"] == len(dates)
    figures = json.loads(Path(paths["scores"]).read_text())
    assert figures["by_horizon"]["horizon"] == list(range(1, 31))
    spread = figures["spread"]["by_horizon"]
    assert np.allclose(np.subtract(spread["gross"], spread["net"]), 4 * 0.002)
    assert figures["spread"]["curve"]["horizon"] == 12  # one date to the next
    page = Path(paths["report"]).read_text()
    assert page.count("<img") >= 3 and "best naive" in page
    # The model's test window starts inside the range: earlier outcomes are in sample, left out.
    assert 0 < replay.summary["steps_in_sample"] < len(table)
    assert replay.summary["steps_scored"] == int((~table["in_sample"]).sum())


@pytest.mark.parametrize(
    ("every", "message"),
    [("90m", "count and a unit"), ("1M", "months space only"), ("0h", "at least one candle")],
)
def test_a_bad_spacing_is_refused_with_what_to_give(every, message):
    with pytest.raises(ValueError, match=message):
        spacing(every, HOUR)


def test_dates_are_candle_boundaries_and_never_in_the_future():
    every = spacing("1d", HOUR)
    dates = replay_dates(HOUR, pd.Timestamp("2022-02-01 10:30", tz="UTC"),
                         pd.Timestamp("2022-02-03 12:00", tz="UTC"), every, NOW)  # fmt: skip
    assert [str(d) for d in dates] == [
        "2022-02-01 10:00:00+00:00", "2022-02-02 10:00:00+00:00", "2022-02-03 10:00:00+00:00",
    ]  # fmt: skip
    with pytest.raises(ValueError, match="in the future"):
        replay_dates(HOUR, NOW, NOW + pd.Timedelta(hours=1), every, NOW)
    with pytest.raises(ValueError, match="before --start"):
        replay_dates(HOUR, NOW, NOW - pd.Timedelta(days=1), every, NOW)


def _add(conn, version: str) -> str:
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO models (name, version, timeframe, algorithm, feature_set_version, "
            "trained_at, n_symbols, n_train_rows, data_end, universe_size) VALUES "
            "('candlecast-1h', %s, '1h', 'xgboost', 'v2', now(), 5, 100, now(), 5) RETURNING id",
            (version,),
        ).fetchone()
        releases.register(conn, row["id"], "1h", "test")
    return f"candlecast-1h:{version}"


def _clock(conn) -> pd.Timestamp:
    return pd.Timestamp(conn.execute("SELECT clock_timestamp() AS t").fetchone()["t"])


def test_champion_at_follows_promotions_rollbacks_and_the_live_gate(fresh_database_url):
    db.ensure_schema(fresh_database_url)
    with psycopg.connect(fresh_database_url, row_factory=dict_row, autocommit=True) as conn:
        before_any = _clock(conn)
        v1 = _add(conn, "v1")  # the first version: champion at once
        after_first = _clock(conn)
        v2 = _add(conn, "v2")  # a challenger: the champion stays v1
        after_register = _clock(conn)
        releases.promote(conn, v2, "alice", "better")
        after_promote = _clock(conn)
        releases.rollback(conn, "1h", "bob", "bad outcomes")
        after_rollback = _clock(conn)
        v3 = _add(conn, "v3")  # rejected by the live gate: never champion
        assert releases.reject(conn, v3, "score_outcomes", "worse live", {"champion": v1})
        after_reject = _clock(conn)
        v4 = _add(conn, "v4")  # promoted by the live gate (auto_promote)
        live = {"champion": v1, "verdict": "pass"}
        releases.promote(conn, v4, "score_outcomes", "live gate passed", auto=True, live=live)
        after_live = _clock(conn)

        assert champion_at(conn, "1h", before_any) is None
        assert champion_at(conn, "1h", after_first) == v1
        assert champion_at(conn, "1h", after_register) == v1
        assert champion_at(conn, "1h", after_promote) == v2
        assert champion_at(conn, "1h", after_rollback) == v1
        assert champion_at(conn, "1h", after_reject) == v1
        assert champion_at(conn, "1h", after_live) == v4
        stages = {
            r["v"]: r["stage"] for r in conn.execute("SELECT version AS v, stage FROM models")
        }
        assert (stages["v3"], stages["v4"], stages["v1"]) == ("rejected", "champion", "retired")
        assert champion_at(conn, "4h", after_rollback) is None  # another timeframe's history
        naive = after_promote.tz_convert("UTC").tz_localize(None)  # a naive time is UTC
        assert champion_at(conn, "1h", naive) == v2


def test_the_cli_function_falls_back_to_the_current_champion_and_says_so(
    trained, settings, fresh_database_url, tmp_path
):
    """`replay_timeframe` (what `candlecast replay` and the DAG run) over a real model store and
    PostgreSQL: the only version became champion after the replayed dates, so each date is
    forecast by the current champion, stated in the table and the notes."""
    from candlecast.modeling import save_model
    from candlecast.replay.workflow import replay_timeframe

    root, model = trained
    home = tmp_path / "home"
    shutil.copytree(root, home / "store")
    local = settings.model_copy(
        update={"candlecast_home": home, "database_url": fresh_database_url}
    )
    with db.connect(local) as conn:
        tag = save_model(local, conn, model)
    result = replay_timeframe(local, "1h", "2022-02-06", "2022-02-09", "24h", top=None)

    table = pd.read_parquet(result["table"])
    assert set(table["model"]) == {tag}
    assert set(table["model_chosen"]) == {
        "current champion: no 1h version was champion at the date"
    }
    assert any("current champion" in note for note in result["notes"])
    assert result["dates"] == 4 and result["coins_forecast"] == 10
    assert result["report"].startswith(str(home / "replays"))
    with pytest.raises(ValueError, match="no 1h series in the store for X:NOPEUSDT"):
        replay_timeframe(local, "1h", "2022-02-06", "2022-02-09", "24h", symbols=["X:NOPEUSDT"])
