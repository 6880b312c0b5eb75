"""The replay's HTML page: the training report's look (its CSS, cells, tables and `png`
figures, its calibration plot) with the replay's own figures: IC by horizon beside the best
naive ranker, IC over time, the calibration curve and the spread's cumulative curve."""

from __future__ import annotations

import numpy as np

from candlecast.modeling.training.report.cells import Joined, grid, na, text
from candlecast.modeling.training.report.html import CSS
from candlecast.modeling.training.report.plots import (
    as_floats,
    as_times,
    date_axis,
    plot_calibration,
    png,
)

GROUPS = ("h1", "h6", "h30", "all", "top50", "rest")
RULES = ("momentum", "reversal", "majority", "drift")


def plot_ic_by_horizon(table: dict) -> str:
    def draw(figure) -> str:
        axes = figure.subplots()
        horizon = np.asarray(table["horizon"])
        model = as_floats(table["rank_ic"])
        interval = np.array([ci if ci else (np.nan, np.nan) for ci in table["rank_ic_ci95"]], float)
        axes.fill_between(horizon, interval[:, 0], interval[:, 1], alpha=0.2, label="95 % interval")
        axes.plot(horizon, model, "-o", ms=3, lw=2.2, label="model")
        axes.plot(
            horizon, as_floats(table["best_naive_ranker_ic"]), "--", lw=1.2, label="best naive"
        )
        axes.axhline(0, color="grey", ls=":", lw=1)
        axes.set(xlabel="horizon (candles)", ylabel="rank IC across coins")
        axes.legend(fontsize=8)
        return "rank IC by horizon with its interval, beside the best naive ranker's"

    return png(draw)


def plot_ic_over_time(data: dict) -> str:
    def draw(figure) -> str:
        axes = figure.subplots()
        ic = as_floats(data["ic"])
        when = as_times(data["as_of"])
        axes.bar(when, ic, width=0.8 * (when[1] - when[0]) if len(when) > 1 else 0.5)
        axes.plot(
            when, np.cumsum(ic) / np.arange(1, len(ic) + 1), color="black", label="mean so far"
        )
        axes.axhline(0, color="grey", ls=":", lw=1)
        axes.set(ylabel=f"rank IC at h{data['horizon']}")
        date_axis(axes)
        axes.legend(fontsize=8)
        return f"rank IC at h{data['horizon']} at each date"

    return png(draw)


def plot_spread(curve: dict) -> str:
    def draw(figure) -> str:
        axes = figure.subplots()
        when = as_times(curve["as_of"])
        axes.plot(when, as_floats(curve["gross"]), label="gross", ds="steps-post")
        axes.plot(when, as_floats(curve["net"]), label="net of fees", ds="steps-post")
        axes.axhline(0, color="grey", ls=":", lw=1)
        axes.set(ylabel="cumulative return (sum)")
        date_axis(axes)
        axes.legend(fontsize=8)
        return f"top minus bottom fifth at h{curve['horizon']}, summed over the dates"

    return png(draw)


def _horizon_table(table: dict, spread: dict) -> str:
    spreads = dict(
        zip(
            spread.get("horizon", []),
            zip(spread.get("gross", []), spread.get("net", []), strict=True),
            strict=True,
        )
    )
    rows = [
        [
            h, Joined(table["rank_ic"][i], table["rank_ic_ci95"][i]), table["dates"][i],
            table["best_naive_ranker"][i], table["best_naive_ranker_ic"][i],
            *spreads.get(h, (None, None)),
            table["model"][i], *(table[rule][i] for rule in RULES),
        ]
        for i, h in enumerate(table["horizon"])
    ]  # fmt: skip
    header = [
        "horizon", "rank IC [95 %]", "dates", "best naive ranker", "its IC", "spread gross",
        "spread net", "direction", *(f"{rule}" for rule in RULES),
    ]  # fmt: skip
    return grid(header, rows)


def _groups_table(groups: dict) -> str:
    rows, classes = [], []
    for name in GROUPS:
        figures = groups.get(name) or {}
        if not figures.get("n"):
            continue
        baselines = figures.get("baselines", {})
        rows.append(
            [
                name, figures["n"],
                Joined(figures.get("rank_ic"), figures.get("rank_ic_ci95")),
                figures.get("best_naive_ranker_ic"),
                Joined(figures.get("direction_accuracy"), figures.get("direction_accuracy_ci95")),
                max((baselines.get(r, {}).get("direction_accuracy") or np.nan for r in RULES),
                    default=None),
                Joined(figures.get("mae_ratio_to_random_walk"), figures.get("mae_ratio_ci95")),
                Joined(figures.get("interval80_coverage"), figures.get("interval80_coverage_ci95")),
                figures.get("ece"), figures.get("calls"),
            ]
        )  # fmt: skip
        classes.append("model" if name == "all" else "")
    header = [
        "steps", "n", "rank IC [95 %]", "best naive IC", "direction [95 %]", "best naive rule",
        "MAE / random walk [95 %]", "80 % band coverage [95 %]", "ECE", "calls",
    ]  # fmt: skip
    return grid(header, rows, classes) if rows else na("no step was scored")


def _summary(replay) -> str:
    rows = [[key, value] for key, value in replay.summary.items()]
    return grid(["", ""], rows)


def _or_na(ready: bool, figure, why: str) -> str:
    return figure() if ready else na(why)


def _notes(notes: list[str]) -> str:
    if not notes:
        return na("no notes")
    return "<ul>" + "".join(f"<li>{text(n)}</li>" for n in notes) + "</ul>"


def render(replay, title: str) -> str:
    scores = replay.scores
    by_horizon, spread = scores["by_horizon"], scores["spread"]
    curve, over_time = spread.get("curve") or {}, scores["ic_over_time"]
    fee = f"fee {spread['fee_a_side']:.2%} a side, 4 sides a pair"
    sections = [
        ("Summary", _summary(replay)),
        (
            "Rank IC by horizon",
            plot_ic_by_horizon(by_horizon)
            + _horizon_table(by_horizon, spread.get("by_horizon", {})),
        ),
        (
            "Rank IC over time",
            _or_na(bool(over_time["ic"]), lambda: plot_ic_over_time(over_time), "too few coins"),
        ),
        ("Direction, error, band and calibration", _groups_table(scores["groups"])),
        (
            "Calibration",
            _or_na(
                bool(scores["calibration"]),
                lambda: plot_calibration(scores["calibration"]),
                "no step made a call (confidence above 0.5)",
            ),
        ),
        (
            f"Top minus bottom fifth ({fee})",
            _or_na(bool(curve.get("as_of")), lambda: plot_spread(curve), "too few coins"),
        ),
        ("Notes", _notes(replay.notes)),
    ]
    body = "\n".join(f"<section><h2>{text(t)}</h2>\n{b}\n</section>" for t, b in sections)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{text(title)}'
        f"</title><style>{CSS}</style></head><body>\n<h1>{text(title)}</h1>\n{body}\n"
        "</body></html>\n"
    )
