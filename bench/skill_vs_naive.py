"""Issue 22's goal table: each timeframe's newest model in a home against the best naive ranker.

    CANDLECAST_HOME=.candlecast-universe .venv/bin/python bench/skill_vs_naive.py [--timeframe 1h ...]

For every walk-forward test window of the model (the served version's and the one before it),
at h1, h6, h30 and over h1-h30: the served rank IC and the best naive ranker's on the same rows
(± the last 1, 6 or 24 candles' return, the sign fixed on training; the best chosen on the test
window itself, so the bar is high), whether relative skill is claimed where that ranker's test
interval lies above 0, claimed horizons whose test IC fell below 0, the MAE ratio to the random
walk, the ECE of the calls and the 80 % band's coverage. Nothing is recomputed: the figures are
the ones training recorded in the model's metadata, the same the report and /models show.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

GROUPS = ("h1", "h6", "h30", "all")
TOLERANCE = 0.005


def newest_model(home: Path, timeframe: str) -> dict:
    folder = home / "bentoml" / "models" / f"candlecast-{timeframe}"
    versions = [p for p in folder.iterdir() if (p / "forecaster.json").exists()]
    if not versions:
        raise SystemExit(f"no trained {timeframe} model under {folder}")
    newest = max(versions, key=lambda p: (p / "forecaster.json").stat().st_mtime)
    return {"version": newest.name, **json.loads((newest / "forecaster.json").read_text())}


def _f(value, digits: int = 3) -> str:
    return "n/a" if value is None or value != value else f"{value:.{digits}f}"


def _interval(pair) -> str:
    return "" if not pair or None in pair else f" [{_f(pair[0])}, {_f(pair[1])}]"


def group_row(figures: dict, claimed: set[int], group: str) -> tuple[str, dict]:
    best = figures.get("best_naive_ranker")
    naive = figures.get("naive_rankers", {}).get(best, {})
    served, rule = figures.get("rank_ic"), figures.get("best_naive_ranker_ic")
    at_least = served is not None and rule is not None and served >= rule - TOLERANCE
    naive_low = (naive.get("rank_ic_ci95") or [None])[0]
    horizon = int(group[1:]) if group != "all" else None
    needs_claim = naive_low is not None and naive_low > 0
    claim_ok = (not needs_claim) or horizon is None or horizon in claimed
    text = (
        f"  {group:>4}: served IC {_f(served)}{_interval(figures.get('rank_ic_ci95'))} vs "
        f"{best or 'n/a'} {_f(rule)}{_interval(naive.get('rank_ic_ci95'))} "
        f"{'ok' if at_least else 'BEHIND'} | claim where the rule has skill: "
        f"{'ok' if claim_ok else 'MISSING'} | MAE/RW {_f(figures.get('mae_ratio_to_random_walk'), 4)}"
        f" | ECE {_f(figures.get('ece')) if figures.get('calls') else 'n/a (no calls)'}"
        f" | 80 % band {_f(figures.get('interval80_coverage'))}"
    )
    return text, {"at_least": at_least, "claim_ok": claim_ok}


def report(model: dict) -> list[str]:
    info = model["info"]
    evidence = info["metrics"]["skill_by_horizon"]
    relative = {row["horizon"] for row in evidence if row.get("relative_skill") == "validated"}
    direction = {row["horizon"] for row in evidence if row.get("skill") == "validated"}
    flagged = [row["horizon"] for row in evidence if row.get("test_below_zero")]
    lines = [
        f"{model['timeframe']} {model['version']}: served {info.get('served')}",
        f"  relative skill at {sorted(relative)}; direction skill at {sorted(direction)}; "
        f"claimed but below 0 on the served test window: {flagged or 'none'}",
    ]
    for fold in info["metrics"]["folds"]:
        claimed = set(fold.get("relative_skill_horizons", relative))
        lines.append(
            f"  {fold['name']}: {fold['test_start'][:10]} -> {fold['test_end'][:10]}; this fold's "
            f"model claims relative skill at {len(claimed)} horizons, direction skill at "
            f"{fold.get('direction_skill_horizons', 'n/a')}; claimed but below 0 on this test "
            f"window: {fold.get('claimed_below_zero', 'n/a') or 'none'}"
        )
        lines += [group_row(fold[g], claimed, g)[0] for g in GROUPS if fold.get(g, {}).get("n")]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeframe", action="append", default=None)
    args = parser.parse_args()
    home = Path(os.environ.get("CANDLECAST_HOME", ".candlecast"))
    for timeframe in args.timeframe or ["1h", "4h", "1d"]:
        print("\n".join(report(newest_model(home, timeframe))))


if __name__ == "__main__":
    main()
