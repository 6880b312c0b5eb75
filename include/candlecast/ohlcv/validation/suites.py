"""The Great Expectations suites, defined in code: what an OHLCV batch (before any write) and
the symbols table must satisfy, and the derived columns the OHLCV suite reads."""

from __future__ import annotations

import logging
import os

from candlecast.marketdata import CANDLE_COLUMNS

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


def quiet_gx() -> None:
    """Before Great Expectations is first imported: no usage analytics, and only its warnings
    in the log."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    logging.getLogger("great_expectations").setLevel(logging.WARNING)


def ohlcv_expectations() -> list:
    quiet_gx()
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
    quiet_gx()
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
