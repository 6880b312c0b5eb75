import json

import pandas as pd
import pytest

from candlecast.modeling.paper_trading import paper_trade

T0 = pd.Timestamp("2025-01-01", tz="UTC")
QUIET = (100.0, 101.0, 99.0, 100.0)  # never near a 5 % stop or a 10 % target from 100


def bars(*ohlc: tuple[float, float, float, float], start: pd.Timestamp = T0) -> pd.DataFrame:
    frame = pd.DataFrame(ohlc, columns=["open", "high", "low", "close"])
    frame.insert(0, "timestamp", pd.date_range(start, periods=len(frame), freq="h"))
    return frame.assign(volume=1.0)


def signals(*rows: tuple) -> pd.DataFrame:
    """(ticker, candle index, confidence[, direction])"""
    return pd.DataFrame(
        [
            {
                "timestamp": T0 + pd.Timedelta(hours=row[1]),
                "ticker": row[0],
                "direction": row[3] if len(row) > 3 else "up",
                "confidence": row[2],
            }
            for row in rows
        ],
        columns=["timestamp", "ticker", "direction", "confidence"],
    )


def one_trade(next_bar, *, after=(QUIET,) * 30, **rules):
    result = paper_trade(signals(("A", 0, 0.9)), {"A": bars(QUIET, next_bar, *after)}, **rules)
    assert result.n_trades == 1
    return result.trades.iloc[0], result


def test_take_profit_fills_at_the_target_and_fees_are_exact_to_the_cent():
    trade, result = one_trade((101.0, 111.0, 99.0, 105.0))
    assert trade.exit_reason == "take_profit"
    assert trade.exit_price == pytest.approx(110.0)
    assert trade.entry_time == T0 and trade.exit_time == T0 + pd.Timedelta(hours=1)
    # $100 in at 100 (fee 0.26), $110 out (fee 0.286)
    assert trade.fees == pytest.approx(0.546, abs=1e-9)
    assert trade.pnl == pytest.approx(9.454, abs=1e-9)
    assert result.net_pnl == pytest.approx(9.454, abs=1e-9)
    assert result.fees_paid == pytest.approx(0.546, abs=1e-9)
    assert result.total_return == pytest.approx(9.454 / 500)
    assert result.win_rate == 1.0 and result.profit_factor is None  # no losses


def test_stop_loss_fills_at_the_stop():
    trade, result = one_trade((99.0, 101.0, 94.0, 96.0))
    assert (trade.exit_reason, trade.exit_price) == ("stop_loss", pytest.approx(95.0))
    assert trade.pnl == pytest.approx(95.0 - 100.0 - 0.26 - 0.247, abs=1e-9)
    assert result.win_rate == 0.0 and result.profit_factor == 0.0


def test_a_gap_through_the_stop_fills_at_the_open():
    trade, _ = one_trade((90.0, 92.0, 88.0, 91.0))
    assert (trade.exit_reason, trade.exit_price) == ("stop_loss", 90.0)


def test_a_gap_above_the_target_fills_at_the_open():
    trade, _ = one_trade((115.0, 118.0, 94.0, 116.0))
    assert (trade.exit_reason, trade.exit_price) == ("take_profit", 115.0)


def test_stop_and_target_in_one_candle_assume_the_stop():
    trade, _ = one_trade((100.0, 111.0, 94.0, 105.0))
    assert (trade.exit_reason, trade.exit_price) == ("stop_loss", pytest.approx(95.0))


def test_time_exit_at_the_close_after_the_holding_period():
    trade, result = one_trade(
        QUIET, after=[QUIET, (100, 101, 99, 100.5), QUIET], time_exit_candles=3
    )
    assert trade.exit_reason == "time" and trade.candles_held == 3
    assert trade.exit_time == T0 + pd.Timedelta(hours=3) and trade.exit_price == 100.5
    assert result.exposure == pytest.approx(3 / 4)  # held through 3 of the window's 4 candles


def test_open_position_exits_at_the_last_close_when_the_data_ends():
    trade, _ = one_trade((100, 101, 99, 102.0), after=[])
    assert (trade.exit_reason, trade.exit_price) == ("end_of_data", 102.0)


def test_at_most_five_positions_taken_by_confidence():
    confidences = {f"C{i}": c for i, c in enumerate([0.61, 0.95, 0.70, 0.88, 0.65, 0.99, 0.80])}
    candles = {ticker: bars(*[QUIET] * 10) for ticker in confidences}
    result = paper_trade(signals(*[(t, 0, c) for t, c in confidences.items()]), candles)
    assert result.n_trades == 5
    assert set(result.trades["ticker"]) == {"C5", "C1", "C3", "C6", "C2"}  # the five highest


def test_one_position_per_coin_and_a_slot_frees_at_the_exit_candle():
    candles = {"A": bars(*[QUIET] * 10), "B": bars(*[QUIET] * 10)}
    # A holds from 0 to its time exit at candle 2; its signals at 1 are ignored, at 2 taken
    rows = [("A", 0, 0.9), ("A", 1, 0.9), ("A", 2, 0.9), ("B", 1, 0.7)]
    result = paper_trade(signals(*rows), candles, time_exit_candles=2)
    taken = list(zip(result.trades["ticker"], result.trades["entry_time"].dt.hour, strict=True))
    assert sorted(taken) == [("A", 0), ("A", 2), ("B", 1)]


def test_the_most_confident_signal_wins_the_last_slot():
    candles = {"A": bars(*[QUIET] * 5), "B": bars(*[QUIET] * 5)}
    result = paper_trade(signals(("A", 0, 0.70), ("B", 0, 0.90)), candles, max_positions=1)
    assert list(result.trades["ticker"]) == ["B"]


def test_below_threshold_and_down_signals_never_trade():
    candles = {"A": bars(*[QUIET] * 5), "B": bars(*[QUIET] * 5)}
    rows = [("A", 0, 0.59), ("B", 0, 0.99, "down"), ("A", 1, 0.95, "down")]
    result = paper_trade(signals(*rows), candles)
    assert result.n_trades == 0 and result.n_eligible_signals == 0 and result.n_signals == 3
    assert result.long_only and result.net_pnl == 0.0
    assert result.buy_and_hold.n_coins == 2  # every signalled coin is held


def test_buy_and_hold_on_a_known_series():
    candles = {
        "A": bars((100, 100, 100, 100.0), (100, 100, 90, 90.0), (90, 130, 90, 130.0)),
        "B": bars((50, 50, 50, 50.0), (50, 50, 45, 45.0), (45, 45, 40, 40.0)),
    }
    hold = paper_trade(signals(("A", 0, 0.5), ("B", 0, 0.5)), candles).buy_and_hold
    # $250 each: 2.5 A and 5 B; in with fee 1.30, out at 325 + 200 with fee 1.365
    assert hold.net_pnl == pytest.approx(525 - 500 - 1.3 - 1.365, abs=1e-9)
    assert hold.total_return == pytest.approx(hold.net_pnl / 500)
    assert hold.max_drawdown == pytest.approx(500 - (450 - 1.3), abs=1e-9)
    assert hold.max_drawdown_fraction == pytest.approx(hold.max_drawdown / 500)


def test_candles_after_the_last_holding_period_change_nothing():
    rising = [(p, p, p, p) for p in range(100, 160)]
    short, long = ({"A": bars(*rising[:n])} for n in (30, 60))
    rows = signals(("A", 0, 0.5), ("A", 2, 0.9))
    first, second = (paper_trade(rows, candles, time_exit_candles=3) for candles in (short, long))
    assert first.buy_and_hold == second.buy_and_hold
    assert first.exposure == second.exposure == pytest.approx(3 / 6)
    assert first.equity_curve.equals(second.equity_curve)


def test_realised_drawdown_after_a_win_then_a_loss():
    candles = {
        "A": bars(QUIET, (101, 111, 99, 105.0), *[QUIET] * 3),
        "B": bars(QUIET, QUIET, QUIET, (99, 101, 94, 96.0), QUIET),
    }
    result = paper_trade(signals(("A", 0, 0.9), ("B", 2, 0.9)), candles)
    loss = -result.trades.set_index("ticker").loc["B", "pnl"]
    assert result.max_drawdown == pytest.approx(loss)
    assert result.equity_curve["equity"].iloc[-1] == pytest.approx(500 + result.net_pnl)


def test_empty_signals_trade_nothing_and_serialise():
    result = paper_trade(signals(), {})
    assert result.n_trades == 0 and result.trades.empty and result.equity_curve.empty
    report = result.as_dict()
    json.dumps(report, allow_nan=False)
    assert report["win_rate"] is None and report["profit_factor"] is None
    assert report["buy_and_hold"]["net_pnl"] is None


def test_as_dict_is_compact_json():
    result = paper_trade(signals(("A", 0, 0.9), ("A", 1150, 0.9)), {"A": bars(*[QUIET] * 1200)})
    report = result.as_dict()
    json.dumps(report, allow_nan=False)
    curve = report["equity_curve"]
    assert len(result.equity_curve) == 1175  # to the last signal's time exit
    assert len(curve["timestamp"]) == 500 and len(curve["equity"]) == 500
    assert curve["timestamp"][-1] == (T0 + pd.Timedelta(hours=1174)).isoformat()
    assert report["trades"]["by_exit_reason"]["time"] == {"n": 2, "pnl": pytest.approx(-1.04)}
    assert report["rules"]["capital"] == 500


@pytest.mark.parametrize(
    ("frame", "candles", "message"),
    [
        (signals(("A", 0, 0.9)), {}, "no frame for signalled ticker 'A'"),
        (signals(("A", 0, 0.9, "sideways")), {"A": bars(QUIET)}, "direction must be"),
        (signals(("A", 0, 1.5)), {"A": bars(QUIET)}, "confidence must be"),
        (signals(("A", 3, 0.9)), {"A": bars(QUIET)}, r"no candle at 1 signal timestamps"),
        (signals(("A", 0, 0.9), ("A", 0, 0.8)), {"A": bars(QUIET)}, "more than one signal"),
        (
            signals(("A", 0, 0.9)).drop(columns="confidence"),
            {},
            r"missing columns \['confidence'\]",
        ),
    ],
)
def test_bad_input_is_named(frame, candles, message):
    with pytest.raises(ValueError, match=message):
        paper_trade(frame, candles)


def test_naive_timestamps_and_bad_rules_are_refused():
    naive = signals(("A", 0, 0.9)).assign(timestamp=lambda f: f["timestamp"].dt.tz_localize(None))
    with pytest.raises(ValueError, match="tz-aware"):
        paper_trade(naive, {"A": bars(QUIET)})
    with pytest.raises(ValueError, match="stop_loss=1.5 must be in"):
        paper_trade(signals(), {}, stop_loss=1.5)
