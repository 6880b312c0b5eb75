"""What the suites found, per series: a batch in (`SeriesBatch`), a verdict out
(`SeriesVerdict`: failures by severity and the candles each names, so only those are held
back), for many series in one suite run; the symbols suite's failures."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from candlecast.ohlcv import moves
from candlecast.ohlcv.validation.checks import derive_checks
from candlecast.ohlcv.validation.project import run_suite
from candlecast.ohlcv.validation.suites import (
    OHLCV_SUITE,
    SERIES_COLUMN,
    SYMBOLS_SUITE,
    WARNING_COLUMNS,
)
from candlecast.timeframes import Timeframe


@dataclass
class SeriesBatch:
    """One series' fetched candles, with what they are measured against: the stored candles
    before them (`context`) and the 1h path of the same coin (stored and fetched)."""

    timeframe: Timeframe
    frame: pd.DataFrame
    context: pd.DataFrame | None = None
    hourly: pd.DataFrame | None = None


@dataclass
class SeriesVerdict:
    """What the suite found in one series' batch: GX failures (each `critical` or `warning`),
    the positions of the candles to hold back (critical) and of those flagged (warning), the
    newest candle left pending, an explanation per judged candle, and the gaps."""

    failures: list[dict] = field(default_factory=list)
    held: set[int] = field(default_factory=set)
    flagged: set[int] = field(default_factory=set)
    pending: set[int] = field(default_factory=set)
    notes: dict[int, str] = field(default_factory=dict)
    gaps: list[dict] = field(default_factory=list)


def _failures(result, frame: pd.DataFrame) -> dict[str, tuple[list[dict], dict[str, set[int]]]]:
    """Failing expectations per series (every series for a table-level failure), and the
    unexpected rows of each severity (frame index labels; None: the whole series)."""
    failures: dict[str, tuple[list[dict], dict[str, set[int] | None]]] = {}
    for item in result.results:
        config = item.expectation_config
        column = (
            config.kwargs.get("column")
            or config.kwargs.get("column_A")
            or ",".join(config.kwargs.get("column_list") or [])
        )
        rows = (item.result or {}).get("unexpected_index_list")
        if item.success and not (column == "missing_before" and rows):
            continue
        if rows is None:
            by_series = {series: None for series in frame[SERIES_COLUMN].unique()}
        else:
            indices = [r if isinstance(r, int) else r.get("index", r) for r in rows]
            by_series = {
                s: set(group.index) for s, group in frame.loc[indices].groupby(SERIES_COLUMN)
            }
        severity = "warning" if column in WARNING_COLUMNS else "critical"
        if column == "missing_before":
            severity = "info"
        for series, labels in by_series.items():
            found, rows_by_severity = failures.setdefault(series, ([], {}))
            found.append(
                {
                    "expectation": config.type,
                    "column": column,
                    "unexpected_count": None if labels is None else len(labels),
                    "severity": severity,
                }
            )
            if severity == "info":
                continue
            known = rows_by_severity.get(severity, set())
            rows_by_severity[severity] = None if labels is None or known is None else known | labels
    return failures


def validate_batches(
    batches: dict[tuple[str, str], SeriesBatch],
    now: pd.Timestamp,
    project_dir: Path | None = None,
) -> dict[tuple[str, str], SeriesVerdict]:
    """One OHLCV suite run over many series: a verdict per series, naming its candles."""
    parts, verdicts, offsets = [], {}, {}
    start = 0
    for key, batch in batches.items():
        if batch.frame.empty:
            continue
        part, assessed = derive_checks(
            batch.frame, batch.timeframe, now, batch.context, batch.hourly
        )
        parts.append(part.assign(**{SERIES_COLUMN: "|".join(key)}))
        offsets[key] = start
        start += len(part)
        verdict = SeriesVerdict()
        verdict.pending = set(np.flatnonzero(assessed["verdict"].eq("pending").to_numpy()))
        verdict.notes = {
            int(i): note for i, note in assessed["note"].items() if isinstance(note, str) and note
        }
        verdict.gaps = moves.gaps(assessed, batch.timeframe)
        verdicts[key] = verdict
    if not parts:
        return {}
    frame = pd.concat(parts, ignore_index=True)
    result = run_suite(OHLCV_SUITE, frame, project_dir)
    for series, (found, rows) in _failures(result, frame).items():
        key = tuple(series.split("|", 1))
        verdict, offset = verdicts[key], offsets[key]
        size = len(batches[key].frame)
        verdict.failures = found

        def positions(labels, offset=offset, size=size):
            return set(range(size)) if labels is None else {int(i) - offset for i in labels}

        if "critical" in rows:
            verdict.held = positions(rows["critical"])
        if "warning" in rows:
            verdict.flagged = positions(rows["warning"]) - verdict.held
    for verdict in verdicts.values():
        verdict.pending -= verdict.held
    return verdicts


def validate_symbols(frame: pd.DataFrame, project_dir: Path | None = None) -> list[dict]:
    """Failures of the symbols suite (empty when the table is sound)."""
    result = run_suite(SYMBOLS_SUITE, frame.assign(**{SERIES_COLUMN: "symbols"}), project_dir)
    found, _ = _failures(result, frame.assign(**{SERIES_COLUMN: "symbols"})).get(
        "symbols", ([], {})
    )
    return found


def validate_candles(frame: pd.DataFrame, timeframe: Timeframe, now: pd.Timestamp) -> list[dict]:
    """The OHLCV suite on one series: its failures (empty when it passes; gaps are not
    failures)."""
    verdicts = validate_batches({("series", timeframe.code): SeriesBatch(timeframe, frame)}, now)
    verdict = verdicts.get(("series", timeframe.code), SeriesVerdict())
    return [f for f in verdict.failures if f["severity"] != "info"]
