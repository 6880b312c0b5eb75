"""The release gate: a challenger against its timeframe's champion on the same, most recent test
window, out of sample for both (the challenger's latest test window from the champion's own
test start on, so neither has seen it).

Both are scored as served, on the skill figures of the models report (rank IC, direction
accuracy beside the best naive rule, MAE against the random walk, ECE, 80 % band coverage),
each with its 95 % moving-block interval; and the challenger's differences to the champion on
the same pairs (paired, so the shared noise of the window cancels), with their intervals.

**The challenger passes unless it is measurably worse**: it fails when, at h1, h6, h30 or all
horizons, its MAE ratio is above the champion's (the whole interval of the difference above
0), its direction accuracy or rank IC below it (the whole interval below 0), or when its ECE
or its band coverage's distance from 80 % is worse by more than `TOLERANCE`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from candlecast.modeling import releases
from candlecast.modeling.features import FEATURE_SET_VERSION
from candlecast.modeling.model_sync import pull_version
from candlecast.modeling.predictor import ForecastModel
from candlecast.modeling.registry import json_safe, load_model, serving_reference
from candlecast.modeling.training.dataset import Pairs, Panel
from candlecast.modeling.training.evaluation import (
    REPORT_HORIZONS,
    block_bootstrap_ci,
    ic_by_timestamp,
)
from candlecast.modeling.training.fit import FoldResult
from candlecast.modeling.training.measurement import measure, served_on
from candlecast.settings import Settings
from candlecast.timeframes import parse_timeframe

TOLERANCE = 0.05  # of ECE and of the band coverage's distance from 80 %
GROUPS = (*(f"h{h}" for h in REPORT_HORIZONS), "all")


def not_comparable(reason: str) -> dict:
    return {"verdict": "not_comparable", "reasons": [reason]}


def _utc(value) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _subset(test: Pairs, keep: np.ndarray) -> Pairs:
    return Pairs(test.row[keep], test.horizon[keep])


def _figures(metrics: dict) -> dict:
    """The report's skill figures of one horizon group, with their intervals."""
    naive = {
        name: rule.get("direction_accuracy")
        for name, rule in metrics.get("baselines", {}).items()
        if isinstance(rule, dict) and "direction_accuracy" in rule
    }
    best = max((v for v in naive.values() if v is not None), default=None)
    keys = (
        "n",
        "rank_ic",
        "rank_ic_ci95",
        "direction_accuracy",
        "direction_accuracy_ci95",
        "mae_ratio_to_random_walk",
        "mae_ratio_ci95",
        "ece",
        "interval80_coverage",
        "interval80_coverage_ci95",
    )
    return {k: metrics.get(k) for k in keys} | {"best_naive_direction_accuracy": best}


def _interval(stamps, numerator, denominator) -> list[float]:
    return [float(v) for v in block_bootstrap_ci(stamps, numerator, denominator)]


def _differences(panel: Panel, test: Pairs, challenger, champion) -> dict:
    """Challenger minus champion on the same pairs, each with its paired 95 % interval."""
    stamps = panel.timestamp[test.row]
    actual = panel.returns(test.row, test.horizon)
    moved = (actual != 0).astype(float)
    out = {}
    for group in GROUPS:
        at = np.ones(len(test), bool) if group == "all" else test.horizon == int(group[1:])
        if not at.any():
            continue
        a, s = actual[at], stamps[at]
        base = np.abs(a)
        error_gap = np.abs(a - challenger.point[at]) - np.abs(a - champion.point[at])
        hits = [
            (d.direction[at] == np.sign(a)).astype(float) * moved[at]
            for d in (challenger, champion)
        ]
        figures = {
            "mae_ratio": float(error_gap.sum() / max(base.sum(), 1e-12)),
            "mae_ratio_ci95": _interval(s, error_gap, base),
            "direction_accuracy": float((hits[0] - hits[1]).sum() / max(moved[at].sum(), 1.0)),
            "direction_accuracy_ci95": _interval(s, hits[0] - hits[1], moved[at]),
        }
        if group != "all":  # a rank IC is across coins at one candle and horizon
            ic_stamps, ic_new = ic_by_timestamp(s, challenger.raw[at], a)
            old_stamps, ic_old = ic_by_timestamp(s, champion.raw[at], a)
            both = pd.Series(ic_new, ic_stamps).sub(pd.Series(ic_old, old_stamps)).dropna()
            if len(both) >= 2:
                figures["rank_ic"] = float(both.mean())
                figures["rank_ic_ci95"] = _interval(
                    both.index.to_numpy(), both.to_numpy(), np.ones(len(both))
                )
        out[group] = figures
    return out


def _worse(group: str, difference: dict, new: dict, old: dict) -> list[str]:
    reasons = []
    low, high = difference.get("mae_ratio_ci95", [np.nan, np.nan])
    if low > 0:
        reasons.append(
            f"{group}: MAE ratio worse by {difference['mae_ratio']:+.4f} [{low:+.4f}, {high:+.4f}]"
        )
    for figure in ("direction_accuracy", "rank_ic"):
        low, high = difference.get(f"{figure}_ci95", [np.nan, np.nan])
        if high < 0:
            reasons.append(
                f"{group}: {figure.replace('_', ' ')} lower by {difference[figure]:+.4f} "
                f"[{low:+.4f}, {high:+.4f}]"
            )
    ece = new.get("ece"), old.get("ece")
    if None not in ece and ece[0] > ece[1] + TOLERANCE:
        reasons.append(f"{group}: ECE {ece[0]:.3f} against {ece[1]:.3f}")
    coverage = new.get("interval80_coverage"), old.get("interval80_coverage")
    if None not in coverage and abs(coverage[0] - 0.8) > abs(coverage[1] - 0.8) + TOLERANCE:
        reasons.append(f"{group}: 80 % band coverage {coverage[0]:.3f} against {coverage[1]:.3f}")
    return reasons


def compare(
    challenger: ForecastModel,
    champion: ForecastModel,
    panel: Panel,
    latest: FoldResult,
    top: set,
    champion_tag: str,
) -> dict:
    """The gate's figures and verdict (`pass`, `fail` with its reasons, or `not_comparable`)."""
    if champion.feature_set_version != FEATURE_SET_VERSION or list(champion.feature_names) != list(
        panel.columns
    ):
        return not_comparable(
            f"{champion_tag} reads feature set {champion.feature_set_version}, the challenger "
            f"{FEATURE_SET_VERSION} (or other columns): it cannot be re-scored on these features"
        )
    start = max(
        _utc(champion.info.get("test_start") or latest.fold.test_start),
        _utc(latest.fold.test_start),
    )
    keep = panel.timestamp[latest.test.row] >= np.datetime64(start.tz_convert(None), "ms")
    test = _subset(latest.test, keep)
    if len(test) == 0 or latest.baselines is None:
        return not_comparable(f"no test pairs after {start} out of sample for both")
    new_metrics, _ = measure(challenger, panel, test, latest.baselines, top)
    old_metrics, _ = measure(champion, panel, test, latest.baselines, top)
    difference = _differences(
        panel, test, served_on(challenger, panel, test), served_on(champion, panel, test)
    )
    new = {g: _figures(new_metrics.get(g, {})) for g in GROUPS}
    old = {g: _figures(old_metrics.get(g, {})) for g in GROUPS}
    reasons = [r for g in GROUPS for r in _worse(g, difference.get(g, {}), new[g], old[g])]
    return json_safe(
        {
            "verdict": "fail" if reasons else "pass",
            "reasons": reasons,
            "champion": champion_tag,
            "window": {
                "start": str(start),
                "end": str(pd.Timestamp(latest.fold.test_end, tz="UTC")),
                "pairs": int(len(test)),
            },
            "challenger_figures": new,
            "champion_figures": old,
            "difference": difference,
        }
    )


def champion_model(settings: Settings, conn, timeframe) -> ForecastModel:
    """The timeframe's champion, loaded; imported first from the object store when
    CANDLECAST_STORE_URL is set and this host's model store lacks it (a Celery worker that did
    not train it). LookupError when it is nowhere to be had."""
    row = releases.champion_row(conn, timeframe)
    if row is None:
        raise LookupError(f"{timeframe.code} has no champion")
    pull_version(settings, f"{row['name']}:{row['version']}")  # no-op without an object store
    return load_model(serving_reference(settings, timeframe, conn))


def gate_against_champion(
    settings: Settings, conn, challenger: ForecastModel, latest: FoldResult, panel: Panel, top
) -> dict | None:
    """The gate of a just-trained version against its timeframe's champion; None when the
    timeframe has no champion yet (the version will be its first)."""
    timeframe = parse_timeframe(challenger.timeframe)
    row = releases.champion_row(conn, timeframe)
    if row is None:
        return None
    tag = f"{row['name']}:{row['version']}"
    try:
        champion = champion_model(settings, conn, timeframe)
    except (LookupError, RuntimeError) as error:
        return not_comparable(f"{tag} cannot be loaded: {error}")
    return compare(challenger, champion, panel, latest, set(list(top)[:50]), tag)
