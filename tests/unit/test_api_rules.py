"""API rules that need no server: predict_until → steps, headline metrics, cache keys."""

from __future__ import annotations

import pandas as pd
import pytest

from candlecast.api import Unprocessable, headline_metrics, normalise_ticker
from candlecast.serving import prediction_key, steps_until
from candlecast.timeframes import TIMEFRAMES

NOW = pd.Timestamp("2025-09-19 23:00", tz="UTC")
LAST_1D = pd.Timestamp("2025-09-18", tz="UTC")


@pytest.mark.parametrize(
    ("until", "steps"),
    [
        ("2025-09-20T00:00:00Z", 2),  # 09-19 is step 1 (still open), 09-20 step 2
        ("2025-09-19T23:30:00Z", 1),
        ("2025-09-25T12:00:00+00:00", 7),
        ("2025-10-18T00:00:00Z", 30),
        ("2025-09-20T00:00:00", 2),  # naive times are UTC
    ],
)
def test_predict_until_counts_candles_after_the_last_one(until, steps):
    assert steps_until(TIMEFRAMES["1d"], LAST_1D, pd.Timestamp(until), NOW) == steps


def test_predict_until_in_the_past_or_too_far_names_the_field():
    with pytest.raises(Unprocessable, match="in the past") as past:
        steps_until(TIMEFRAMES["1d"], LAST_1D, pd.Timestamp("2025-09-19T12:00Z"), NOW)
    with pytest.raises(Unprocessable, match="more than 30") as far:
        steps_until(TIMEFRAMES["1d"], LAST_1D, pd.Timestamp("2025-10-19T00:00Z"), NOW)
    assert past.value.field == far.value.field == "predict_until"
    assert steps_until(TIMEFRAMES["1M"], pd.Timestamp("2025-08-01", tz="UTC"),
                       pd.Timestamp("2026-01-15", tz="UTC"), NOW) == 5  # fmt: skip


def test_headline_metrics_read_whatever_layout_exists():
    layout_v2 = {
        "test": {
            "h1": {"direction_accuracy": 0.55, "mae_ratio_to_random_walk": 0.98, "n": 10},
            "h6": {"direction_accuracy": 0.53},
            "all": {"n": 30},
        }
    }
    assert headline_metrics(layout_v2) == {
        "h1": {"direction_accuracy": 0.55, "mae_ratio_to_random_walk": 0.98},
        "h6": {"direction_accuracy": 0.53},
    }
    assert headline_metrics({"headline": {"h30": {"x": 1}}}) == {"h30": {"x": 1}}
    assert headline_metrics({"h30": {"mae_ratio": 1.1}}) == {"h30": {"mae_ratio": 1.1}}
    assert headline_metrics({"test": {"all": {"n": 3}}}) == {}
    assert headline_metrics([]) == {}


def test_prediction_key_changes_with_every_part():
    base = ("X:BTCUSDT", "1d", 30, "candlecast-1d:v1", LAST_1D)
    keys = {
        prediction_key(*base),
        prediction_key("X:ETHUSDT", *base[1:]),
        prediction_key(base[0], "1h", *base[2:]),
        prediction_key(*base[:2], 29, *base[3:]),
        prediction_key(*base[:3], "candlecast-1d:v2", base[4]),
        prediction_key(*base[:4], LAST_1D + pd.Timedelta(days=1)),
    }
    assert len(keys) == 6


@pytest.mark.parametrize("bad", ["BTC/USDT", "X:" + "A" * 40, "", "x:b", "BTC USDT"])
def test_tickers_are_refused_unless_well_formed(bad):
    with pytest.raises(ValueError, match="symbol"):
        normalise_ticker(bad)
