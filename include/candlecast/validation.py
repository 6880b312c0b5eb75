"""Great Expectations suite for OHLCV batches, defined in code and run before any write."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from functools import cache

import pandas as pd

from candlecast.marketdata.base import CANDLE_COLUMNS
from candlecast.timeframes import Timeframe

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
logging.getLogger("great_expectations").setLevel(logging.WARNING)

PRICE_COLUMNS = ("open", "high", "low", "close")


@dataclass
class ValidationOutcome:
    success: bool
    failures: list[dict] = field(default_factory=list)  # expectation type, kwargs, observed

    def summary(self) -> str:
        if self.success:
            return "all expectations met"
        return "; ".join(
            f"{f['expectation']}({f.get('column', '')}): {f.get('unexpected_count', '?')} unexpected"
            for f in self.failures
        )


SERIES_COLUMN = "series"


def ohlcv_expectations(now: pd.Timestamp) -> list:
    """The OHLCV suite, over a frame of one or many series (column `series`)."""
    import great_expectations.expectations as gxe

    expectations: list = [
        gxe.ExpectTableColumnsToMatchSet(
            column_set=[*CANDLE_COLUMNS, SERIES_COLUMN, "aligned_to_timeframe", "increasing"],
            exact_match=True,
        ),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=[SERIES_COLUMN, "timestamp"]),
        gxe.ExpectColumnValuesToBeInSet(column="increasing", value_set=[True]),
        gxe.ExpectColumnValuesToBeBetween(column="timestamp", max_value=now, strict_max=True),
        gxe.ExpectColumnValuesToBeInSet(column="aligned_to_timeframe", value_set=[True]),
        gxe.ExpectColumnValuesToBeBetween(column="volume", min_value=0),
    ]
    for column in ("timestamp", *PRICE_COLUMNS, "volume"):
        expectations.append(gxe.ExpectColumnValuesToNotBeNull(column=column))
    for column in PRICE_COLUMNS:
        expectations.append(
            gxe.ExpectColumnValuesToBeBetween(column=column, min_value=0, strict_min=True)
        )
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


@cache
def _batch_definition():
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas("candlecast")
    asset = source.add_dataframe_asset("ohlcv_batch")
    return asset.add_batch_definition_whole_dataframe("whole_batch")


def _batch_frame(batches: dict[tuple[str, str], tuple[Timeframe, pd.DataFrame]]) -> pd.DataFrame:
    parts = []
    for (ticker, code), (timeframe, frame) in batches.items():
        part = frame.loc[:, list(CANDLE_COLUMNS)].copy()
        part[SERIES_COLUMN] = f"{ticker}|{code}"
        part["aligned_to_timeframe"] = timeframe.aligned(part["timestamp"])
        increasing = part["timestamp"].diff().gt(pd.Timedelta(0))
        if len(part):
            increasing.iloc[0] = True  # the first candle has nothing before it
        part["increasing"] = increasing
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def validate_batches(
    batches: dict[tuple[str, str], tuple[Timeframe, pd.DataFrame]], now: pd.Timestamp
) -> dict[tuple[str, str], list[dict]]:
    """One suite run over many series; returns the failures of each failing series."""
    batches = {k: v for k, v in batches.items() if not v[1].empty}
    if not batches:
        return {}
    import great_expectations as gx

    frame = _batch_frame(batches)
    suite = gx.ExpectationSuite(name="ohlcv", expectations=ohlcv_expectations(now))
    batch = _batch_definition().get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(suite, result_format={"result_format": "COMPLETE"})
    failures: dict[tuple[str, str], list[dict]] = {}
    for item in result.results:
        if item.success:
            continue
        config = item.expectation_config
        details = item.result or {}
        rows = details.get("unexpected_index_list")
        if rows is None:  # a table-level failure concerns every series in the batch
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
            failures.setdefault(tuple(series.split("|", 1)), []).append(
                {
                    "expectation": config.type,
                    "column": column,
                    "unexpected_count": None if n is None else int(n),
                }
            )
    return failures


def validate_candles(
    frame: pd.DataFrame, timeframe: Timeframe, now: pd.Timestamp
) -> ValidationOutcome:
    """Run the OHLCV suite on one series."""
    failures = validate_batches({("series", timeframe.code): (timeframe, frame)}, now)
    found = failures.get(("series", timeframe.code), [])
    return ValidationOutcome(success=not found, failures=found)
