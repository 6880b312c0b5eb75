"""Great Expectations suites, defined in code: OHLCV batches (before any write) and symbols.

Row-wise facts GX cannot see across rows or series (alignment to the timeframe, increasing
timestamps within a series, the move from the previous close) are derived as boolean columns
first, so the suites themselves stay static and can be stored with their results for Data Docs.
With a project folder, results are kept there and `build_docs` renders them as HTML.
"""

from __future__ import annotations

import logging
import os
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from candlecast.marketdata import CANDLE_COLUMNS
from candlecast.timeframes import Timeframe

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
logging.getLogger("great_expectations").setLevel(logging.WARNING)

PRICE_COLUMNS = ("open", "high", "low", "close")
SERIES_COLUMN = "series"
DERIVED_COLUMNS = (
    "aligned_to_timeframe",
    "increasing",
    "not_in_future",
    "move_below_5x",
    "move_below_50pct",
)
# Expectations on these columns flag a batch (recorded, alerted) without stopping it.
WARNING_COLUMNS = {"move_below_50pct"}
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
        gxe.ExpectColumnValuesToBeInSet(column=c, value_set=[True]) for c in DERIVED_COLUMNS
    ]
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


@cache
def _validators(project_dir: Path | None):
    """Batch definitions and suites, in a file project (kept results) or in memory."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    if project_dir is None:
        context = gx.get_context(mode="ephemeral")
    else:
        project_dir.mkdir(parents=True, exist_ok=True)
        context = gx.get_context(mode="file", project_root_dir=str(project_dir))
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
        suite = context.suites.add_or_update(
            gx.ExpectationSuite(name=name, expectations=expectations)
        )
        validation = context.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=name, data=definition, suite=suite)
        )
        validators[name] = validation
    return context, validators


def _run(suite: str, frame: pd.DataFrame, project_dir: Path | None):
    _, validators = _validators(project_dir)
    return validators[suite].run(
        batch_parameters={"dataframe": frame}, result_format={"result_format": "COMPLETE"}
    )


def derive_checks(frame: pd.DataFrame, timeframe: Timeframe, now: pd.Timestamp) -> pd.DataFrame:
    """The boolean facts the OHLCV suite expects to be true, for one series."""
    part = frame.loc[:, list(CANDLE_COLUMNS)].reset_index(drop=True)
    part["aligned_to_timeframe"] = timeframe.aligned(part["timestamp"])
    increasing = part["timestamp"].diff().gt(pd.Timedelta(0))
    move = np.abs(np.log(part["close"] / part["close"].shift(1)))
    if len(part):
        increasing.iloc[0] = True  # the first candle has nothing before it
    part["increasing"] = increasing
    part["not_in_future"] = part["timestamp"] < now
    part["move_below_5x"] = ~(move > np.log(5.0))
    part["move_below_50pct"] = ~(move > np.log(1.5))
    return part


def _failures(result, frame: pd.DataFrame) -> dict[str, list[dict]]:
    """Failing expectations per series (every series for a table-level failure)."""
    failures: dict[str, list[dict]] = {}
    for item in result.results:
        if item.success:
            continue
        config = item.expectation_config
        rows = (item.result or {}).get("unexpected_index_list")
        if rows is None:
            counts = {series: None for series in frame[SERIES_COLUMN].unique()}
        else:
            indices = [r if isinstance(r, int) else r.get("index", r) for r in rows]
            counts = frame.loc[indices, SERIES_COLUMN].value_counts().to_dict()
        column = (
            config.kwargs.get("column")
            or config.kwargs.get("column_A")
            or ",".join(config.kwargs.get("column_list") or [])
        )
        for series, n in counts.items():
            failures.setdefault(series, []).append(
                {
                    "expectation": config.type,
                    "column": column,
                    "unexpected_count": None if n is None else int(n),
                    "severity": "warning" if column in WARNING_COLUMNS else "critical",
                }
            )
    return failures


def validate_batches(
    batches: dict[tuple[str, str], tuple[Timeframe, pd.DataFrame]],
    now: pd.Timestamp,
    project_dir: Path | None = None,
) -> dict[tuple[str, str], list[dict]]:
    """One OHLCV suite run over many series; the failures of each failing series, each marked
    `critical` (quarantine) or `warning` (flag)."""
    parts = []
    for (ticker, code), (timeframe, frame) in batches.items():
        if not frame.empty:
            parts.append(
                derive_checks(frame, timeframe, now).assign(**{SERIES_COLUMN: f"{ticker}|{code}"})
            )
    if not parts:
        return {}
    frame = pd.concat(parts, ignore_index=True)
    result = _run(OHLCV_SUITE, frame, project_dir)
    return {tuple(s.split("|", 1)): f for s, f in _failures(result, frame).items()}


def is_critical(failures: list[dict]) -> bool:
    return any(f["severity"] == "critical" for f in failures)


def validate_symbols(frame: pd.DataFrame, project_dir: Path | None = None) -> list[dict]:
    """Failures of the symbols suite (empty when the table is sound)."""
    result = _run(SYMBOLS_SUITE, frame.assign(**{SERIES_COLUMN: "symbols"}), project_dir)
    return _failures(result, frame.assign(**{SERIES_COLUMN: "symbols"})).get("symbols", [])


def build_docs(project_dir: Path) -> Path:
    """Render kept results as HTML (pruning the oldest) and return the index page."""
    context, _ = _validators(project_dir)
    results = sorted(
        (project_dir / "gx" / "uncommitted" / "validations").rglob("*.json"),
        key=lambda p: p.stat().st_mtime,
    )
    for stale in results[:-MAX_RESULTS_KEPT]:
        stale.unlink(missing_ok=True)
    context.build_data_docs()
    return project_dir / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"


def validate_candles(frame: pd.DataFrame, timeframe: Timeframe, now: pd.Timestamp) -> list[dict]:
    """The OHLCV suite on one series: its failures (empty when it passes)."""
    return validate_batches({("series", timeframe.code): (timeframe, frame)}, now).get(
        ("series", timeframe.code), []
    )
