"""Market context: BTC and ETH at the coin's candle, matched by open time, computed by the same
function in training (benchmarks read from the store) and serving (benchmarks from the
fresh-candle cache on a real Redis) — the parity test compares the two row for row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from candlecast.marketdata import SampleProvider
from candlecast.modeling import (
    MarketContext,
    choose_benchmarks,
    compute_features,
    feature_columns,
    market_columns,
)
from candlecast.modeling.training import build_panel
from candlecast.ohlcv import CandleStore
from candlecast.ops import GuardedRedis, serving_redis_client
from candlecast.serving import FreshCandles, feature_window
from candlecast.serving.forecast import MarketContextBehind, benchmark_series, market_context
from candlecast.settings import SAMPLE_DATA_DIR, Settings
from candlecast.timeframes import TIMEFRAMES

from .sample_frames import sample_candles

HOUR = TIMEFRAMES["1h"]
PAIRS = ("X:BTCUSDT", "X:ETHUSDT", "X:SOLUSDT")


def _with_vwap(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(vwap=(frame["high"] + frame["low"] + frame["close"]) / 3)


def test_benchmarks_are_the_most_traded_usd_pairs_of_btc_and_eth():
    ranked = ["X:ETHUSD", "X:SOLUSD", "X:BTCUSDT", "X:BTCUSD", "X:ETHBTC", "junk"]
    assert choose_benchmarks(ranked) == {"BTC": "X:BTCUSDT", "ETH": "X:ETHUSD"}
    assert choose_benchmarks(["X:SOLUSD"]) == {}


def test_a_coin_against_itself_has_beta_one_and_no_move_of_its_own():
    btc = sample_candles("1h", "X:BTCUSDT", 300)
    features = compute_features(btc, HOUR, MarketContext.from_candles({"BTC": btc}))
    tail = features.iloc[60:]
    np.testing.assert_allclose(tail["btc_beta_24"], 1.0, rtol=1e-9)
    np.testing.assert_allclose(tail["btc_corr_24"], 1.0, rtol=1e-9)
    np.testing.assert_allclose(tail[["btc_rel_1", "btc_rel_6", "btc_rel_24"]], 0.0, atol=1e-9)
    np.testing.assert_allclose(tail["btc_vol_rel"], 0.0, atol=1e-6)
    np.testing.assert_allclose(tail["btc_ret_1_z"], tail["ret_z_24"], rtol=1e-6)


def test_a_twice_levered_coin_has_beta_two():
    btc = sample_candles("1h", "X:BTCUSDT", 300)
    levered = btc.copy()
    log_returns = np.diff(np.log(btc["close"].to_numpy()), prepend=np.log(btc["close"].iloc[0]))
    levered["close"] = 50.0 * np.exp(np.cumsum(2 * log_returns))
    levered["open"] = levered["close"].shift(1).fillna(levered["close"].iloc[0])
    levered["high"] = levered[["open", "close"]].max(axis=1) * 1.001
    levered["low"] = levered[["open", "close"]].min(axis=1) * 0.999
    features = compute_features(levered, HOUR, MarketContext.from_candles({"BTC": btc}))
    np.testing.assert_allclose(features["btc_beta_24"].iloc[60:], 2.0, rtol=1e-6)
    np.testing.assert_allclose(features["btc_rel_24"].iloc[60:], 0.0, atol=1e-6)


def test_benchmark_values_are_matched_by_open_time_never_shifted_across_a_gap():
    btc = sample_candles("1h", "X:BTCUSDT", 300)
    coin = sample_candles("1h", "X:SOLUSDT", 300).drop(index=range(150, 155)).reset_index(drop=True)
    context = MarketContext.from_candles({"BTC": btc})
    on_coin = compute_features(coin, HOUR, context).set_index(coin["timestamp"])
    on_btc = compute_features(btc, HOUR, context).set_index(btc["timestamp"])
    shared = on_coin.index[on_coin["btc_ret_1_z"].notna()]
    np.testing.assert_allclose(
        on_coin.loc[shared, "btc_ret_1_z"], on_btc.loc[shared, "btc_ret_1_z"], rtol=1e-12
    )
    # The benchmark lacks a candle the coin has: those rows have no context, not a neighbour's.
    holed = btc.drop(index=200).reset_index(drop=True)
    features = compute_features(coin, HOUR, MarketContext.from_candles({"BTC": holed}))
    missing = coin.index[coin["timestamp"] == btc["timestamp"].iloc[200]]
    assert features.loc[missing, "btc_ret_1_z"].isna().all()
    assert features.loc[missing, "btc_beta_24"].isna().all()


def test_the_columns_follow_the_benchmarks_a_model_was_trained_with():
    columns = feature_columns(HOUR, ("BTC", "ETH"))
    assert columns[-len(market_columns(("BTC", "ETH"))) :] == market_columns(("BTC", "ETH"))
    assert feature_columns(HOUR) == columns[: -len(market_columns(("BTC", "ETH")))]
    assert all(name.startswith(("btc_", "eth_")) for name in market_columns(("BTC", "ETH")))


@pytest.fixture
def guarded(redis_url) -> GuardedRedis:
    client = serving_redis_client(Settings(redis_url=redis_url))
    client.flushdb()
    return GuardedRedis(client)


def test_training_and_serving_compute_the_same_market_context(tmp_path, guarded):
    """Training reads BTC and ETH from the store; serving from the fresh-candle cache, fetched
    once from the provider for every symbol. The rows of the same candle are the same."""
    provider = SampleProvider(SAMPLE_DATA_DIR)
    now = provider.now()
    store = CandleStore(tmp_path)
    history_start = now - pd.Timedelta(hours=1500)
    for ticker in PAIRS:
        store.write(
            ticker, HOUR, _with_vwap(provider.fetch_candles(ticker, HOUR, history_start, now))
        )
    panel = build_panel(store, list(PAIRS), HOUR)
    assert panel.market == {"BTC": "X:BTCUSDT", "ETH": "X:ETHUSDT"}
    assert panel.columns == feature_columns(HOUR, ("BTC", "ETH"))

    candles = FreshCandles(provider, guarded, keep_seconds=600, recheck_seconds=60)
    benchmarks = {"BTC": candles.get("X:BTCUSDT", HOUR), "ETH": candles.get("X:ETHUSDT", HOUR)}
    calls = candles.provider_calls

    class Trained:  # what market_context reads of a model: the benchmarks it was trained with
        market = panel.market

    names = market_columns(("BTC", "ETH"))
    for ticker in PAIRS:
        window = candles.get(ticker, HOUR)
        tail = window.frame.iloc[-feature_window(HOUR) :].reset_index(drop=True)
        last = tail["timestamp"].iloc[-1]
        served = compute_features(tail, HOUR, market_context(Trained, benchmarks, last))
        row = np.flatnonzero(
            (panel.ticker == ticker) & (panel.timestamp == last.to_datetime64().astype("<M8[ms]"))
        )
        assert len(row) == 1, ticker
        trained = pd.Series(panel.features[row[0]], index=panel.columns)
        np.testing.assert_allclose(
            served[names].iloc[-1].to_numpy(dtype="float32"), trained[names].to_numpy(), rtol=1e-5
        )
    assert candles.provider_calls == calls + 1  # BTC and ETH came from the cache: only SOL fetched


def test_serving_refuses_a_context_older_than_the_coin(guarded):
    provider = SampleProvider(SAMPLE_DATA_DIR)
    candles = FreshCandles(provider, guarded, keep_seconds=600, recheck_seconds=60)
    btc = candles.get("X:BTCUSDT", HOUR)

    class Trained:
        market = {"BTC": "X:BTCUSDT"}

    behind = type(btc)(btc.ticker, HOUR, btc.frame.iloc[:-1], btc.now, True, "cache")
    with pytest.raises(MarketContextBehind, match="X:BTCUSDT"):
        market_context(Trained, {"BTC": behind}, btc.last_candle_at)
    assert market_context(Trained, {"BTC": btc}, btc.last_candle_at).bases == ("BTC",)


def test_a_benchmarks_moves_are_computed_once_and_shared_by_every_coin(guarded):
    """Serving builds a benchmark's series once per decoded frame and its returns and
    volatilities once per series; the shared arrays give the same rows as a fresh context."""
    provider = SampleProvider(SAMPLE_DATA_DIR)
    candles = FreshCandles(provider, guarded, keep_seconds=600, recheck_seconds=60)
    candles.get("X:BTCUSDT", HOUR)  # fetched from the provider and cached
    btc, again = (candles.get("X:BTCUSDT", HOUR) for _ in range(2))
    assert (btc.source, again.source) == ("cache", "cache")
    assert again.frame is btc.frame  # the worker hands out its decoded copy

    class Trained:
        market = {"BTC": "X:BTCUSDT"}

    shared = market_context(Trained, {"BTC": btc}, btc.last_candle_at)
    assert (
        market_context(Trained, {"BTC": again}, btc.last_candle_at).series["BTC"]
        is (shared.series["BTC"])
    )
    assert benchmark_series(btc.frame.copy()) is not shared.series["BTC"]  # another frame

    series = shared.series["BTC"]
    assert "moves" not in series.derived
    first_coin, second_coin = (
        candles.get(t, HOUR).frame.iloc[-feature_window(HOUR) :].reset_index(drop=True)
        for t in ("X:ETHUSDT", "X:SOLUSDT")
    )
    compute_features(first_coin, HOUR, shared)
    moves = series.derived["moves"]
    served = compute_features(second_coin, HOUR, shared)
    assert series.derived["moves"] is moves  # not recomputed for the second coin
    fresh = compute_features(second_coin, HOUR, MarketContext.from_candles({"BTC": btc.frame}))
    names = market_columns(("BTC",))
    np.testing.assert_array_equal(served[names].to_numpy(), fresh[names].to_numpy())
