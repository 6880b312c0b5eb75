"""The report's figures: each drawn on its own matplotlib Figure and returned as an <img> tag
with the PNG inline (matplotlib is imported only when a figure is drawn)."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable

import numpy as np
import pandas as pd

TOP_FEATURES = 20
MAX_EXAMPLES = 6
DIRECTION_SERIES = ("model", "momentum", "reversal", "majority", "drift")


def png(draw: Callable, size: tuple[float, float] = (8.0, 3.6)) -> str:
    """Draw on a fresh Figure (not pyplot: no global figure registry to leak or close, any
    backend) and return it as an <img> tag with the PNG inline."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, dpi=100, layout="constrained")
    alt = draw(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="{html.escape(str(alt))}" src="data:image/png;base64,{encoded}">'


def plot_accuracy(data: dict) -> str:
    def draw(figure) -> str:
        axes = figure.subplots()
        horizon = data.get("horizon") or []
        for name, values in data.items():
            if name in DIRECTION_SERIES and len(values) == len(horizon):
                model = name == "model"
                axes.plot(horizon, as_floats(values), label=_plain(name), lw=2.4 if model else 1.2)
        axes.axhline(0.5, color="grey", ls=":", lw=1)
        axes.set(xlabel="horizon (candles)", ylabel="direction accuracy")
        axes.legend(fontsize=8)
        return "direction accuracy by horizon, model against baselines"

    return png(draw)


def plot_rankers(data: dict) -> str:
    """The served signal's rank IC against the best naive ranker's per horizon: validation
    (relative skill marked) and the latest test window."""

    def draw(figure) -> str:
        validation_axes, test_axes = figure.subplots(1, 2, sharey=True)
        horizon = np.array(data["horizon"])
        claimed = np.array(data["relative_skill"], dtype=bool)
        model_ic = as_floats(data["validation_ic"])
        validation_axes.plot(horizon, model_ic, "-", lw=2.2, label="served signal")
        validation_axes.plot(
            horizon, as_floats(data["validation_naive_ic"]), "--", lw=1.2, label="best naive ranker"
        )
        validation_axes.plot(
            horizon[claimed], model_ic[claimed], "o", color="green", label="relative skill"
        )
        validation_axes.set(
            title="validation", xlabel="horizon (candles)", ylabel="rank IC across coins"
        )
        test_axes.plot(
            data["test_horizon"], as_floats(data["test_ic"]), "-", lw=2.2, label="served"
        )
        test_axes.plot(
            data["test_horizon"], as_floats(data["test_naive_ic"]), "--", lw=1.2, label="best naive"
        )
        test_axes.set(title="test (only measured)", xlabel="horizon (candles)")
        for axes in (validation_axes, test_axes):
            axes.axhline(0, color="grey", ls=":", lw=1)
            axes.legend(fontsize=8)
        return "rank IC by horizon: the served signal against the best naive ranker"

    return png(draw, size=(10.0, 3.6))


def plot_verdict(evidence: list[dict]) -> str:
    """Validation evidence per horizon: rank IC with its interval, and the model's direction
    accuracy against the best naive rule's; validated horizons marked."""
    horizon = np.array([row["horizon"] for row in evidence])
    skilled = np.array([row.get("skill") == "validated" for row in evidence])

    def draw(figure) -> str:
        ic_axes, accuracy_axes = figure.subplots(1, 2)
        ic = as_floats([row.get("rank_ic") for row in evidence])
        low = as_floats([row.get("rank_ic_low") for row in evidence])
        high = as_floats([row.get("rank_ic_high") for row in evidence])
        ic_axes.fill_between(horizon, low, high, alpha=0.25, label="99 % interval")
        ic_axes.plot(horizon, ic, "-", lw=1.5, label="rank IC")
        ic_axes.plot(horizon[skilled], ic[skilled], "o", color="green", label="skill")
        ic_axes.axhline(0, color="grey", ls=":", lw=1)
        ic_axes.set(xlabel="horizon (candles)", ylabel="rank IC across coins")
        ic_axes.legend(fontsize=8)
        accuracy = as_floats([row.get("direction_accuracy") for row in evidence])
        naive = as_floats([row.get("best_naive_accuracy") for row in evidence])
        accuracy_axes.plot(horizon, accuracy, "-", lw=2, label="model")
        accuracy_axes.plot(horizon, naive, "--", lw=1.2, label="best naive rule")
        accuracy_axes.plot(horizon[skilled], accuracy[skilled], "o", color="green", label="skill")
        accuracy_axes.axhline(0.5, color="grey", ls=":", lw=1)
        accuracy_axes.set(xlabel="horizon (candles)", ylabel="direction accuracy")
        accuracy_axes.legend(fontsize=8)
        return "validation evidence by horizon: rank IC with its interval, accuracy against naive"

    return png(draw, size=(10.0, 3.6))


def plot_calibration(calibration: dict) -> str:
    def draw(figure) -> str:
        axes = figure.subplots()
        axes.plot([0, 1], [0, 1], color="grey", ls=":", lw=1, label="perfect")
        confidence, observed = (
            as_floats(calibration["confidence"]),
            as_floats(calibration["observed"]),
        )
        axes.plot(confidence, observed, "o-", label="model")
        axes.set(xlim=(0, 1), ylim=(0, 1), xlabel="stated confidence", ylabel="observed accuracy")
        counts = axes.twinx()
        counts.bar(confidence, as_floats(calibration.get("count", [])), width=0.03, alpha=0.25)
        counts.set_ylabel("predictions per bin")
        axes.set_zorder(counts.get_zorder() + 1)  # the curve over the count bars
        axes.patch.set_visible(False)
        axes.legend(fontsize=8, loc="upper left")
        return "calibration curve with the diagonal and the bin counts"

    return png(draw, size=(6.0, 4.5))


def plot_examples(examples: list[dict]) -> str:
    shown = examples[:MAX_EXAMPLES]
    columns = min(2, len(shown))
    rows = -(-len(shown) // columns)

    def draw(figure) -> str:
        grid = figure.subplots(rows, columns, squeeze=False).ravel()
        for axes, example in zip(grid, shown, strict=False):
            _draw_example(axes, example)
        for axes in grid[len(shown) :]:
            axes.set_visible(False)
        return "forecast paths with their 80 % band against the actual closes"

    return png(draw, size=(5.0 * columns, 3.0 * rows))


def _draw_example(axes, example: dict) -> None:
    forecast_time = as_times(example.get("forecast_time", []))
    history = as_times(example.get("history_time", []))
    axes.plot(
        history, as_floats(example.get("history_close", [])), color="black", lw=1, label="history"
    )
    low, high = example.get("low_80") or [], example.get("high_80") or []
    if len(low) == len(high) == len(forecast_time):
        axes.fill_between(
            forecast_time, as_floats(low), as_floats(high), alpha=0.25, label="80 % band"
        )
    axes.plot(forecast_time, as_floats(example.get("forecast_close", [])), lw=1.5, label="forecast")
    actual = as_floats(example.get("actual_close") or [])
    axes.plot(forecast_time[: len(actual)], actual, ls="--", lw=1.2, label="actual")
    axes.set_title(_plain(example.get("ticker", "")), fontsize=9)
    date_axis(axes)
    axes.tick_params(labelsize=7)
    axes.legend(fontsize=7)


def plot_importance(importance: dict) -> str:
    top = sorted(importance.items(), key=lambda item: -as_floats([item[1]])[0])[:TOP_FEATURES]

    def draw(figure) -> str:
        axes = figure.subplots()
        axes.barh(
            [_plain(name) for name, _ in reversed(top)], as_floats([v for _, v in reversed(top)])
        )
        axes.set_xlabel("importance")
        axes.tick_params(axis="y", labelsize=8)
        return f"feature importance, top {len(top)}"

    return png(draw, size=(8.0, 1.0 + 0.28 * len(top)))


def plot_equity(curve: dict) -> str:
    def draw(figure) -> str:
        axes = figure.subplots()
        times = as_times(curve["timestamp"])
        axes.plot(times, as_floats(curve["equity"]), label="strategy (realised)", ds="steps-post")
        if len(curve.get("buy_and_hold") or []) == len(times):
            axes.plot(times, as_floats(curve["buy_and_hold"]), label="buy-and-hold")
        axes.set_ylabel(r"equity (\$)")
        date_axis(axes)
        axes.legend(fontsize=8)
        return "paper-trading equity against buy-and-hold"

    return png(draw)


def date_axis(axes) -> None:
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    locator = AutoDateLocator()
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))


def _plain(text) -> str:
    """Data shown literally in a plot: a `$` would start matplotlib's math mode."""
    return str(text).replace("$", r"\$")


def as_floats(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def as_times(values) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.to_datetime(list(values), utc=True))
