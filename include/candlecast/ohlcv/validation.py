"""Great Expectations suites, defined in code: OHLCV batches (before any write) and symbols.

Row-wise facts GX cannot see across rows or series (alignment to the timeframe, increasing
timestamps within a series, the move from the previous candle judged on the series' own scale by
`moves`, the gap before each candle) are derived as columns first, so the suites themselves stay
static and can be stored with their results for Data Docs. A failure names its candles, so only
those are held back (see `SeriesVerdict`). With a project folder, results are kept there and
`build_docs` renders them as HTML.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from candlecast.marketdata import CANDLE_COLUMNS
from candlecast.ohlcv import moves
from candlecast.timeframes import Timeframe

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
logging.getLogger("great_expectations").setLevel(logging.WARNING)

PRICE_COLUMNS = ("open", "high", "low", "close")
SERIES_COLUMN = "series"
BOOLEAN_COLUMNS = (
    "aligned_to_timeframe",
    "increasing",
    "not_in_future",
    "not_a_print",
    "move_plausible",
)
DERIVED_COLUMNS = (*BOOLEAN_COLUMNS, "missing_before")
# Expectations on these columns flag candles (recorded, alerted) without holding them back.
WARNING_COLUMNS = {"move_plausible", "missing_before"}
OHLCV_SUITE, SYMBOLS_SUITE = "ohlcv", "symbols"
MAX_RESULTS_KEPT = 200


def ohlcv_expectations() -> list:
    import great_expectations.expectations as gxe

    expectations: list = [
        gxe.ExpectTableColumnsToMatchSet(
            column_set=[*CANDLE_COLUMNS, SERIES_COLUMN, *DERIVED_COLUMNS], exact_match=True
        ),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=[SERIES_COLUMN, "timestamp"]),
        gxe.ExpectColumnValuesToBeBetween(column="volume", min_value=0),
    ]
    expectations += [
        gxe.ExpectColumnValuesToBeInSet(column=c, value_set=[True]) for c in BOOLEAN_COLUMNS
    ]
    # Gaps are reported, never failed: `mostly=0` keeps them in the result (and Data Docs).
    expectations.append(
        gxe.ExpectColumnValuesToBeBetween(
            column="missing_before", min_value=0, max_value=0, mostly=0.0
        )
    )
    expectations += [
        gxe.ExpectColumnValuesToNotBeNull(column=c) for c in ("timestamp", *PRICE_COLUMNS, "volume")
    ]
    expectations += [
        gxe.ExpectColumnValuesToBeBetween(column=c, min_value=0, strict_min=True)
        for c in PRICE_COLUMNS
    ]
    for column in ("open", "close"):
        expectations.append(
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="high", column_B=column, or_equal=True
            )
        )
        expectations.append(
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A=column, column_B="low", or_equal=True
            )
        )
    return expectations


def symbols_expectations() -> list:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnValuesToNotBeNull(column="ticker"),
        gxe.ExpectColumnValuesToBeUnique(column="ticker"),
        gxe.ExpectColumnValuesToMatchRegex(column="ticker", regex=r"^X:[A-Z0-9]{2,30}$"),
        gxe.ExpectColumnValuesToNotBeNull(column="name"),
        gxe.ExpectColumnValuesToNotBeNull(column="base"),
        gxe.ExpectColumnValuesToNotBeNull(column="quote"),
        gxe.ExpectColumnValuesToBeInSet(column="active", value_set=[True, False]),
        gxe.ExpectColumnValuesToBeBetween(column="usd_volume_24h", min_value=0),
    ]


@contextmanager
def _project_lock(project_dir: Path | None, exclusive: bool) -> Iterator[None]:
    """Parallel tasks (Airflow's workers) share one file project: setting it up rewrites its
    suite and validation definition files while another process may be reading them (seen on
    two Celery workers: a half-written definition read as None). Set-up and docs take the lock
    exclusively, validation runs share it."""
    if project_dir is None:
        yield
        return
    project_dir.mkdir(parents=True, exist_ok=True)
    with open(project_dir / ".candlecast-gx.lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield


@cache
def _validators(project_dir: Path | None):
    """Batch definitions and suites, in a file project (kept results) or in memory."""
    import great_expectations as gx

    if project_dir is None:
        return _define(gx.get_context(mode="ephemeral"))
    with _project_lock(project_dir, exclusive=True):
        return _define(gx.get_context(mode="file", project_root_dir=str(project_dir)))


def _define(context):
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    try:
        source = context.data_sources.get("candlecast")
    except (KeyError, ValueError, LookupError):
        source = context.data_sources.add_pandas("candlecast")
    validators = {}
    for name, expectations in (
        (OHLCV_SUITE, ohlcv_expectations()),
        (SYMBOLS_SUITE, symbols_expectations()),
    ):
        try:
            asset = source.get_asset(name)
        except LookupError:
            asset = source.add_dataframe_asset(name)
        try:
            definition = asset.get_batch_definition("whole")
        except (KeyError, ValueError, LookupError):
            definition = asset.add_batch_definition_whole_dataframe("whole")
        suite = _stored_suite(context, name, expectations)
        validators[name] = _stored_validation(context, name, definition, suite)
    return context, validators


def _rules(expectations) -> list[tuple]:
    return [(e.expectation_type, e.configuration.kwargs) for e in expectations]


def _stored_suite(context, name: str, expectations: list):
    """The stored suite when it holds these expectations, else these saved: rewriting an
    unchanged suite would make every other process's copy stale (GX refuses to run those)."""
    import great_expectations as gx
    from great_expectations.exceptions import DataContextError

    try:
        stored = context.suites.get(name)
    except DataContextError:
        stored = None
    if stored is not None and _rules(stored.expectations) == _rules(expectations):
        return stored
    return context.suites.add_or_update(gx.ExpectationSuite(name=name, expectations=expectations))


def _stored_validation(context, name: str, definition, suite):
    import great_expectations as gx
    from great_expectations.exceptions import DataContextError

    try:
        stored = context.validation_definitions.get(name)
    except DataContextError:
        stored = None
    if stored is not None and stored.suite.id == suite.id and stored.data.id == definition.id:
        return stored
    return context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=name, data=definition, suite=suite)
    )


def _run(suite: str, frame: pd.DataFrame, project_dir: Path | None):
    _, validators = _validators(project_dir)  # before the shared lock: set-up takes it alone
    with _project_lock(project_dir, exclusive=False):
        return validators[suite].run(
            batch_parameters={"dataframe": frame}, result_format={"result_format": "COMPLETE"}
        )


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


def _sound(part: pd.DataFrame, timeframe: Timeframe) -> pd.Series:
    """Candles whose prices and timestamp can be measured at all."""
    prices = part[list(PRICE_COLUMNS)]
    body_high = part[["open", "close"]].max(axis=1)
    body_low = part[["open", "close"]].min(axis=1)
    return (
        (prices > 0).all(axis=1)
        & np.isfinite(prices).all(axis=1)
        & (part["high"] >= body_high)
        & (part["low"] <= body_low)
        & part["aligned_to_timeframe"]
        & part["increasing"]
        & ~part["timestamp"].duplicated(keep=False)
    )


def derive_checks(
    frame: pd.DataFrame,
    timeframe: Timeframe,
    now: pd.Timestamp,
    context: pd.DataFrame | None = None,
    hourly: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The facts the OHLCV suite expects of one series, and the move verdict of each candle
    (`moves.assess`: verdict, note; NaN rows for candles too broken to measure)."""
    part = frame.loc[:, list(CANDLE_COLUMNS)].reset_index(drop=True)
    part["aligned_to_timeframe"] = timeframe.aligned(part["timestamp"])
    increasing = part["timestamp"].diff().gt(pd.Timedelta(0))
    if len(part):
        increasing.iloc[0] = True  # the first candle has nothing before it
    part["increasing"] = increasing
    part["not_in_future"] = part["timestamp"] < now
    sound = _sound(part, timeframe)
    before = part["timestamp"].iloc[0] if len(part) else None
    history = (
        context.loc[context["timestamp"] < before, list(CANDLE_COLUMNS)]
        if context is not None and before is not None
        else part.iloc[:0, : len(CANDLE_COLUMNS)]
    )
    measured = pd.concat([history, part.loc[sound, list(CANDLE_COLUMNS)]], ignore_index=True)
    assessed = moves.assess(measured, timeframe, len(history), hourly)
    assessed.index = part.index[sound]
    verdicts = assessed.reindex(part.index)
    part["not_a_print"] = ~verdicts["verdict"].isin(moves.HELD_VERDICTS)
    part["move_plausible"] = verdicts["verdict"].ne("flag")
    # Gaps are in the candles as fetched (a held candle is not a gap in the provider's data).
    stamps = pd.concat([history["timestamp"].iloc[-1:], part["timestamp"]], ignore_index=True)
    part["missing_before"] = moves.missing_before(stamps, timeframe)[len(stamps) - len(part) :]
    verdicts["missing_before"] = part["missing_before"]
    verdicts["timestamp"] = part["timestamp"]
    return part, verdicts


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
    result = _run(OHLCV_SUITE, frame, project_dir)
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
    result = _run(SYMBOLS_SUITE, frame.assign(**{SERIES_COLUMN: "symbols"}), project_dir)
    found, _ = _failures(result, frame.assign(**{SERIES_COLUMN: "symbols"})).get(
        "symbols", ([], {})
    )
    return found


def build_docs(project_dir: Path) -> Path:
    """Render kept results as HTML (pruning the oldest) and return the index page."""
    context, _ = _validators(project_dir)
    with _project_lock(project_dir, exclusive=True):
        return _build_docs(context, project_dir)


def _build_docs(context, project_dir: Path) -> Path:
    results = sorted(
        (project_dir / "gx" / "uncommitted" / "validations").rglob("*.json"),
        key=lambda p: p.stat().st_mtime,
    )
    for stale in results[:-MAX_RESULTS_KEPT]:
        stale.unlink(missing_ok=True)
    context.build_data_docs()
    return project_dir / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"


def validate_candles(frame: pd.DataFrame, timeframe: Timeframe, now: pd.Timestamp) -> list[dict]:
    """The OHLCV suite on one series: its failures (empty when it passes; gaps are not
    failures)."""
    verdicts = validate_batches({("series", timeframe.code): SeriesBatch(timeframe, frame)}, now)
    verdict = verdicts.get(("series", timeframe.code), SeriesVerdict())
    return [f for f in verdict.failures if f["severity"] != "info"]
