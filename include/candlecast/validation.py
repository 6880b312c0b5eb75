"""Great Expectations suite for OHLCV batches, defined in code and run before any write."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cache

import pandas as pd

from candlecast.marketdata.base import CANDLE_COLUMNS
from candlecast.timeframes import Timeframe

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

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


def ohlcv_expectations(now: pd.Timestamp) -> list:
    import great_expectations.expectations as gxe

    expectations: list = [
        gxe.ExpectTableColumnsToMatchOrderedList(
            column_list=[*CANDLE_COLUMNS, "aligned_to_timeframe"]
        ),
        gxe.ExpectColumnValuesToBeUnique(column="timestamp"),
        gxe.ExpectColumnValuesToBeIncreasing(column="timestamp", strictly=True),
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


def validate_candles(
    frame: pd.DataFrame, timeframe: Timeframe, now: pd.Timestamp
) -> ValidationOutcome:
    """Run the OHLCV suite on one batch; an empty batch is trivially valid."""
    if frame.empty:
        return ValidationOutcome(success=True)
    import great_expectations as gx

    batch_frame = frame.loc[:, list(CANDLE_COLUMNS)].copy()
    batch_frame["aligned_to_timeframe"] = timeframe.aligned(batch_frame["timestamp"])
    suite = gx.ExpectationSuite(
        name=f"ohlcv_{timeframe.slug}", expectations=ohlcv_expectations(now)
    )
    batch = _batch_definition().get_batch(batch_parameters={"dataframe": batch_frame})
    result = batch.validate(suite)
    failures = []
    for item in result.results:
        if item.success:
            continue
        config = item.expectation_config
        failures.append(
            {
                "expectation": config.type,
                "column": config.kwargs.get("column") or config.kwargs.get("column_A", ""),
                "unexpected_count": (item.result or {}).get("unexpected_count"),
            }
        )
    return ValidationOutcome(success=bool(result.success), failures=failures)
