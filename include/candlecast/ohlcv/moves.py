"""Moves between consecutive candles, judged on the series' own scale.

A move is the log return from the previous candle's close, and only when that candle is the one
just before by the timeframe's calendar; across a gap there is no move, there is a gap (its length
in candles is `missing_before`). A move's size is read as a robust z: the log return over the
series' trailing volatility (1.4826 × the median absolute return of the previous `MAD_WINDOW`
moves, floored per timeframe so a flat stablecoin is not judged on a zero scale).

Verdicts, per candle:

- `print`: a spike that reverts at the next candle (up then back down, or the reverse), both legs
  beyond `PRINT_Z` and at least a doubling (or halving) each way, and not confirmed by the 1h path:
  the signature of a bad print. Held back.
- `impossible`: a move beyond `IMPOSSIBLE_RATIO` in one candle (the only fixed ratio). Held back.
- `pending`: the newest candle of a batch moved like a print would, and nothing after it can say
  yet whether it reverts: not written this time, judged again with its successor next run.
- `flag`: a spike that reverts but is short of a print (both legs beyond `FLAG_Z` and 50 % each
  way), or a large move on 4h/1d/1w/1M that the 1h path contradicts. Written, flagged.
- `ok`: everything else, however large: a level that persists is a move (a crash, a +149 % day).

A candle of 4h and above is *confirmed* when the last 1h close inside it and inside the candle
before both agree with their closes within `CONFIRM_TOLERANCE`.

Pure pandas and numpy: data health uses it too, without Great Expectations.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from candlecast.timeframes import Timeframe

IMPOSSIBLE_RATIO = 100.0
PRINT_Z, PRINT_MIN_LOG = 25.0, float(np.log(2.0))
FLAG_Z, FLAG_MIN_LOG = 12.0, float(np.log(1.5))
REVERT_UNDO = 0.5  # the next candle undoes at least half of the move (in log terms)
CONFIRM_TOLERANCE = float(np.log(1.02))
MAD_WINDOW, MAD_MIN_MOVES = 90, 20
MAD_TO_SIGMA = 1.4826
MIN_SCALE = {"1h": 0.004, "4h": 0.008, "1d": 0.015, "1w": 0.04, "1M": 0.08}
VERDICTS = ("ok", "flag", "pending", "print", "impossible")
HELD_VERDICTS = frozenset({"print", "impossible"})


def missing_before(timestamps: pd.Series, timeframe: Timeframe) -> np.ndarray:
    """Candles missing between each candle and the one before it (0 for the first)."""
    stamps = pd.DatetimeIndex(timestamps)
    if len(stamps) < 2:
        return np.zeros(len(stamps), dtype=np.int64)
    if timeframe.code == "1M":
        months = stamps.year.to_numpy() * 12 + stamps.month.to_numpy()
        steps = np.diff(months)
    else:
        length = timeframe.next_open(stamps[0]) - stamps[0]
        steps = np.floor((stamps[1:] - stamps[:-1]) / length).astype(np.int64)
    return np.concatenate([[0], np.maximum(steps - 1, 0)]).astype(np.int64)


def _scale(moves: pd.Series, timeframe: Timeframe) -> pd.Series:
    """Trailing robust volatility before each candle (the candle's own move left out)."""
    size = moves.abs()
    trailing = size.rolling(MAD_WINDOW, min_periods=MAD_MIN_MOVES).median().shift(1)
    known = size.dropna()
    whole = known.median() if len(known) >= MAD_MIN_MOVES else np.nan
    scale = (trailing.fillna(whole) * MAD_TO_SIGMA).clip(lower=MIN_SCALE[timeframe.code])
    return scale


def _hourly_path(candles: pd.DataFrame, timeframe: Timeframe, hourly: pd.DataFrame) -> pd.Series:
    """The last 1h close inside each candle (NaN where the 1h path has none)."""
    if hourly is None or hourly.empty or timeframe.code == "1h":
        return pd.Series(np.nan, index=candles.index)
    path = hourly.loc[:, ["timestamp", "close"]].sort_values("timestamp")
    path = path.rename(columns={"timestamp": "hour", "close": "hour_close"})
    last_hour = timeframe.close_times(candles["timestamp"]) - pd.Timedelta(hours=1)
    keys = pd.DataFrame({"last_hour": last_hour.astype(path["hour"].dtype), "row": candles.index})
    matched = pd.merge_asof(
        keys.sort_values("last_hour"), path, left_on="last_hour", right_on="hour"
    ).set_index("row")
    matched = matched.reindex(candles.index)
    inside = matched["hour"] >= candles["timestamp"].astype(path["hour"].dtype)
    return matched["hour_close"].where(inside)


def _pct(log_move: float) -> str:
    return f"{np.expm1(log_move) * 100:+.0f} %"


def assess(
    candles: pd.DataFrame,
    timeframe: Timeframe,
    first_checked: int = 0,
    hourly: pd.DataFrame | None = None,
    last_is_newest: bool = True,
) -> pd.DataFrame:
    """Verdicts for `candles[first_checked:]` (sorted, unique, sound prices); the rows before
    are context (stored history) that is measured against but not judged.

    Columns: timestamp, missing_before, log_move (NaN across a gap), z, verdict, note."""
    candles = candles.reset_index(drop=True)
    close = candles["close"].astype("float64")
    gap = missing_before(candles["timestamp"], timeframe)
    consecutive = pd.Series(gap == 0, index=candles.index)
    consecutive.iloc[:1] = False
    moves = np.log(close / close.shift(1)).where(consecutive)
    scale = _scale(moves, timeframe)
    z = moves.abs() / scale
    following = moves.shift(-1)
    z_next = following.abs() / scale
    path = _hourly_path(candles, timeframe, hourly)
    agrees = (np.log(close / path)).abs() <= CONFIRM_TOLERANCE
    contradicts = (np.log(close / path)).abs() > CONFIRM_TOLERANCE
    confirmed = agrees & agrees.shift(1, fill_value=False)
    contradicted = contradicts | contradicts.shift(1, fill_value=False)
    reverts = (
        following.notna()
        & (np.sign(following) == -np.sign(moves))
        & ((moves + following).abs() <= REVERT_UNDO * moves.abs())
    )
    smaller_leg = np.minimum(moves.abs(), following.abs())
    verdict = pd.Series("ok", index=candles.index, dtype=object)
    flag = (reverts & (z >= FLAG_Z) & (z_next >= FLAG_Z) & (smaller_leg >= FLAG_MIN_LOG)) | (
        contradicted & (z >= FLAG_Z) & (moves.abs() >= FLAG_MIN_LOG)
    )
    verdict[flag & ~confirmed] = "flag"
    if last_is_newest and len(candles) > first_checked:
        last = candles.index[-1]
        if (
            z.iloc[-1] >= PRINT_Z
            and abs(moves.iloc[-1]) >= PRINT_MIN_LOG
            and not confirmed.iloc[-1]
        ):
            verdict[last] = "pending"
    verdict[moves.abs() > np.log(IMPOSSIBLE_RATIO)] = "impossible"
    printed = reverts & (z >= PRINT_Z) & (z_next >= PRINT_Z) & (smaller_leg >= PRINT_MIN_LOG)
    verdict[printed & ~confirmed] = "print"
    # The candle after a held one moved from a bad close: its own move says nothing.
    for row in np.flatnonzero(verdict.isin(HELD_VERDICTS).to_numpy()) + 1:
        if row < len(verdict) and verdict[row] != "ok" and not printed[row]:
            verdict[row] = "ok"
    out = _judged(candles, gap, moves, z, verdict)
    for row in out.index[(out["verdict"] != "ok") & (out.index >= first_checked)]:
        out.loc[row, "note"] = _note(out, row, following, confirmed, contradicted, timeframe)
    return out.iloc[first_checked:].reset_index(drop=True)


def _judged(candles, gap, moves, z, verdict) -> pd.DataFrame:
    """Each candle's move, its size in units of the series' scale and its verdict (no note yet)."""
    return pd.DataFrame(
        {
            "timestamp": candles["timestamp"],
            "missing_before": gap,
            "log_move": moves,
            "z": z,
            "verdict": verdict,
            "note": "",
        }
    )


def _note(out, row, following, confirmed, contradicted, timeframe) -> str:
    stamp = out.loc[row, "timestamp"].strftime("%Y-%m-%d %H:%M")
    move, z, verdict = out.loc[row, "log_move"], out.loc[row, "z"], out.loc[row, "verdict"]
    head = f"{timeframe.code} {stamp} close {_pct(move)} (z {z:.0f} on the series' own scale)"
    if verdict == "impossible":
        return f"{head}: beyond {IMPOSSIBLE_RATIO:g}x in one candle, an impossible print"
    if verdict == "pending":
        return f"{head}: newest candle, held until the next one shows whether it reverts"
    back = following.loc[row]
    if verdict == "print":
        return f"{head}, {_pct(back)} at the next candle: a print that reverts"
    if contradicted.loc[row]:
        return f"{head}: the 1h path disagrees with this close"
    return f"{head}, {_pct(back)} at the next candle: a reverting spike short of a print"


def gaps(assessed: pd.DataFrame, timeframe: Timeframe) -> list[dict]:
    """Gaps before the assessed candles: where they end and how many candles are missing."""
    rows = assessed[assessed["missing_before"] > 0]
    return [
        {"before": ts.isoformat(), "missing": int(n)}
        for ts, n in zip(rows["timestamp"], rows["missing_before"], strict=True)
    ]
