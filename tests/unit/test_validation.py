from pathlib import Path

import pandas as pd
import pytest

from candlecast.ohlcv.validation import (
    SeriesBatch,
    build_docs,
    validate_batches,
    validate_candles,
    validate_symbols,
)
from candlecast.timeframes import TIMEFRAMES

from .sample_frames import PROVIDER, sample_candles

HOUR = TIMEFRAMES["1h"]


def test_real_candles_pass_the_suite():
    assert validate_candles(sample_candles(n=300), HOUR, PROVIDER.now()) == []


def _where(frame, row, **values):
    bad = frame.copy()
    for column, value in values.items():
        bad.loc[row, column] = value
    return bad


@pytest.mark.parametrize(
    ("defect", "column", "severity"),
    [
        ("negative_low", "low", "critical"),
        ("high_below_low", "high", "critical"),
        ("duplicate", "series,timestamp", "critical"),
        ("out_of_order", "increasing", "critical"),
        ("misaligned", "aligned_to_timeframe", "critical"),
        ("negative_volume", "volume", "critical"),
        ("nan_close", "close", "critical"),
        ("future", "not_in_future", "critical"),
        ("thousand_x_print", "not_a_print", "critical"),
        ("reverting_sixty_pct_spike", "move_plausible", "warning"),
    ],
)
def test_each_defect_is_named_with_its_severity(defect, column, severity):
    frame = sample_candles(n=50).reset_index(drop=True)
    now = PROVIDER.now()
    row = 20
    close = frame.loc[row, "close"]
    bad = {
        "negative_low": lambda: _where(frame, row, low=-1.0),
        "high_below_low": lambda: _where(frame, row, high=frame.loc[row, "low"] * 0.5),
        "duplicate": lambda: pd.concat([frame, frame.iloc[[row]]], ignore_index=True),
        "out_of_order": lambda: pd.concat(
            [frame.iloc[:30], frame.iloc[[row]], frame.iloc[30:]], ignore_index=True
        ),
        "misaligned": lambda: _where(
            frame, row, timestamp=frame.loc[row, "timestamp"] + pd.Timedelta(minutes=7)
        ),
        "negative_volume": lambda: _where(frame, row, volume=-1.0),
        "nan_close": lambda: _where(frame, row, close=None),
        "future": lambda: frame.assign(timestamp=frame["timestamp"] + pd.Timedelta(days=3650)),
        "thousand_x_print": lambda: _where(frame, row, close=close * 1000, high=close * 1000),
        "reverting_sixty_pct_spike": lambda: _where(
            frame, row, close=close * 1.6, high=close * 1.6
        ),
    }[defect]()
    failures = validate_candles(bad, HOUR, now)
    found = {(f["column"], f["severity"]) for f in failures}
    assert (column, severity) in found, failures


def test_one_run_names_only_the_failing_series(tmp_path):
    now = PROVIDER.now()
    good = sample_candles(n=60).reset_index(drop=True)
    bad = _where(sample_candles(n=60, ticker="X:ETHUSDT").reset_index(drop=True), 7, low=-2.0)
    verdicts = validate_batches(
        {
            ("X:BTCUSDT", "1h"): SeriesBatch(HOUR, good),
            ("X:ETHUSDT", "1h"): SeriesBatch(HOUR, bad),
        },
        now,
        tmp_path,
    )
    assert verdicts[("X:BTCUSDT", "1h")].failures == []
    (failure,) = verdicts[("X:ETHUSDT", "1h")].failures
    assert failure["unexpected_count"] == 1 and failure["column"] == "low"
    assert verdicts[("X:ETHUSDT", "1h")].held == {7}
    docs = build_docs(tmp_path)
    assert docs.exists() and "ohlcv" in docs.read_text()


def test_symbols_suite_rejects_bad_rows():
    frame = pd.DataFrame(
        {
            "ticker": ["X:BTCUSDT", "BTC USD", "X:BTCUSDT"],
            "name": ["Bitcoin", "x", "Bitcoin"],
            "base": ["BTC", "BTC", "BTC"],
            "quote": ["USDT", "USD", "USDT"],
            "active": [True, True, True],
            "usd_volume_24h": [1.0, -5.0, 2.0],
        }
    )
    columns = {(f["expectation"], f["column"]) for f in validate_symbols(frame)}
    assert ("expect_column_values_to_match_regex", "ticker") in columns
    assert ("expect_column_values_to_be_unique", "ticker") in columns
    assert ("expect_column_values_to_be_between", "usd_volume_24h") in columns
    assert validate_symbols(frame.iloc[[0]]) == []


def test_docs_folder_is_under_the_project(tmp_path):
    assert build_docs(Path(tmp_path)).is_relative_to(tmp_path)


def test_a_level_that_persists_is_a_move_not_a_defect():
    frame = sample_candles(n=80).reset_index(drop=True)
    prices = ["open", "high", "low", "close"]
    frame.loc[40:, prices] = frame.loc[40:, prices] * 2.5  # +150 % in one hour, and it stays
    frame.loc[40, "open"] = frame.loc[39, "close"]
    frame.loc[40, "low"] = min(frame.loc[40, "low"], frame.loc[40, "open"])
    assert validate_candles(frame, HOUR, PROVIDER.now()) == []


def test_gaps_are_reported_with_their_length_not_measured_as_moves():
    frame = sample_candles(n=80).reset_index(drop=True)
    prices = ["open", "high", "low", "close"]
    frame.loc[50:, prices] = frame.loc[50:, prices] * 4  # after the hole: another level
    holed = frame.drop(index=range(40, 50)).reset_index(drop=True)
    verdicts = validate_batches({("X:BTCUSDT", "1h"): SeriesBatch(HOUR, holed)}, PROVIDER.now())
    verdict = verdicts[("X:BTCUSDT", "1h")]
    assert verdict.held == set() and verdict.flagged == set()
    assert verdict.gaps == [{"before": frame.loc[50, "timestamp"].isoformat(), "missing": 10}]
    assert {f["column"]: f["severity"] for f in verdict.failures} == {"missing_before": "info"}


def test_the_newest_candle_waits_when_only_its_successor_can_tell():
    frame = sample_candles(n=80).reset_index(drop=True)
    last = frame.index[-1]
    frame.loc[last, ["close", "high"]] = frame.loc[last, "close"] * 3
    verdict = validate_batches({("X:BTCUSDT", "1h"): SeriesBatch(HOUR, frame)}, PROVIDER.now())[
        ("X:BTCUSDT", "1h")
    ]
    assert verdict.pending == {last} and verdict.held == set()
    assert "newest candle" in verdict.notes[last]


_PARALLEL_TASK = """
import sys
from pathlib import Path
from candlecast.ohlcv.validation import SeriesBatch, validate_batches
from candlecast.timeframes import TIMEFRAMES
from tests.unit.sample_frames import PROVIDER, sample_candles
batch = {("X:BTCUSDT", "1h"): SeriesBatch(TIMEFRAMES["1h"], sample_candles(n=120))}
for _ in range(2):
    verdicts = validate_batches(batch, PROVIDER.now(), project_dir=Path(sys.argv[1]))
    assert not verdicts[("X:BTCUSDT", "1h")].failures
print("ok")
"""


def test_parallel_tasks_share_one_project_safely(tmp_path):
    # Airflow's workers run mapped updates at once on one GX folder: each sets the project up
    # (rewriting its definitions) while the others read them
    import subprocess
    import sys

    project = tmp_path / "gx-project"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _PARALLEL_TASK, str(project)],
            cwd=Path(__file__).parents[2],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outcomes = [p.communicate(timeout=600) for p in processes]
    failed = [err[-2000:] for (out, err) in outcomes if out.strip() != "ok"]
    assert failed == []
